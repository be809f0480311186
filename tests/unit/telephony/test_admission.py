"""The admission gate's pure parts: the filter program's shape, its Python twin, and the AIMD share decisions.
(What the kernel does with the program: tests/integration/telephony/test_admission_filter.py.)"""
from __future__ import annotations

import pytest

from telephony.admission import (
    KEEP,
    SCAN_END,
    Gate,
    gate_program,
    lottery_threshold,
    pack,
    packed_program,
    shut_out,
)

NEW = (b"REGISTER sip:wangnet.ordos SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
       b"From: <sip:1001@wangnet.ordos>;tag=a\r\nTo: <sip:1001@wangnet.ordos>\r\nCall-ID: c1\r\n"
       b"CSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n")
AUTHORISED = NEW.replace(b"Content-Length", b'Authorization: Digest username="1001"\r\nContent-Length')


def test_shut_out_drops_only_short_registers_without_auth() -> None:
    assert shut_out(NEW)
    assert not shut_out(AUTHORISED)
    assert not shut_out(AUTHORISED.replace(b"Authorization", b"aUTHORIZATION"))  # header names have no case
    assert not shut_out(NEW.replace(b"REGISTER", b"OPTIONS "))
    assert not shut_out(b"SIP/2.0 200 OK\r\n\r\n")
    assert not shut_out(b"\r\n\r\n")  # keep-alive
    assert not shut_out(b"REGISTER")  # shorter than "REGISTER ": not judged here
    long_new = NEW.replace(b"Content-Length", b"X-Pad: " + b"p" * SCAN_END + b"\r\nContent-Length")
    assert not shut_out(long_new)  # beyond the search: the service's own policy judges it


def test_program_fits_the_kernel_and_keeps_by_default() -> None:
    closed, lottery = gate_program(0.0), gate_program(0.5)
    assert len(lottery) == len(closed) + 3  # the draw: load random, compare, keep
    assert len(lottery) < 4096  # BPF_MAXINSNS
    assert closed[-1] == (0x06, 0, 0, KEEP)  # a long datagram without "auth" falls through to the service
    assert all(0 <= jt <= 255 and 0 <= jf <= 255 for _, jt, jf, _ in lottery)
    assert packed_program(0.5) == pack(lottery)
    assert len(packed_program(0.25, 400)) == 8 * len(gate_program(0.25, 400))


def test_lottery_threshold_is_the_share_of_32_bit_numbers() -> None:
    assert lottery_threshold(0.0) == 0
    assert lottery_threshold(0.5) == 1 << 31
    assert lottery_threshold(1.0) == 0xFFFFFFFF


def test_gate_halves_on_backlog_and_grows_back_additively() -> None:
    gate = Gate(high=0.05, low=0.01, interval=1.0, step=1 / 8, floor=1 / 32)
    assert gate.observe(0.02, False, 0.0) is None and not gate.shedding  # a short wait: nothing to do
    assert gate.observe(0.06, False, 10.0) == 0.5 and gate.closings == 1
    assert gate.observe(0.2, False, 10.5) is None  # at most one change per interval
    assert gate.observe(0.2, False, 11.0) == 0.25
    assert gate.observe(0.03, False, 12.0) is None  # between low and high: hold
    assert gate.observe(0.0, True, 13.0) == 0.375  # queue empty: grow
    assert gate.observe(0.005, False, 14.0) == 0.5  # a short wait: grow
    assert [gate.observe(0.0, True, t) for t in (15.0, 16.0, 17.0, 18.0)] == [0.625, 0.75, 0.875, 1.0]
    assert not gate.shedding
    assert gate.observe(0.0, True, 19.0) is None  # open: nothing to grow
    assert gate.closings == 1


def test_gate_never_shuts_completely() -> None:
    gate = Gate(floor=1 / 32)
    shares = [gate.observe(1.0, False, float(t)) for t in range(10)]
    assert shares[:5] == [0.5, 0.25, 0.125, 0.0625, 0.03125]
    assert shares[5:] == [None] * 5 and gate.admit == pytest.approx(1 / 32)
