"""Admission under overload: new registrations are thinned out inside the kernel while a backlog drains.

Why: past its capacity a registrar must spend what it has on finishing the
registrations it has already challenged. Answering the surplus of new
REGISTERs with 503, or even only reading them to drop them, costs the one
Python process CPU per datagram, and at twice its capacity that cost alone
pushed completions below the clean maximum. A classic BPF socket filter
(``SO_ATTACH_FILTER``) runs before a datagram is queued on the socket: while
the service sheds, it admits only a share of the REGISTERs that carry no
Authorization header (a lottery on the kernel's random numbers) and drops the
rest, so shedding costs the service nothing; everything else (authorised
REGISTERs, responses, INVITEs, keep-alives) still comes in. The phones whose
REGISTER was dropped retransmit (RFC 3261 timer E) and are let in as the share
grows back.

This module holds the program (plain data: its instructions, and
``shut_out``, the same decision in Python for tests) and ``Gate``, which share
to admit (values in, verdicts out). The service owns the socket and the timer.
"""
from __future__ import annotations

import functools
import struct
from dataclasses import dataclass

# classic BPF opcodes (linux/filter.h); a socket filter's A register and absolute loads see the UDP header
# first, so the SIP payload starts at offset 8
_LD_W_ABS = 0x20  # A = 32-bit word at [k]
_LD_LEN = 0x80  # A = length of the packet (UDP header included)
_OR_K = 0x44  # A |= k
_JEQ_K = 0x15  # A == k ? jt : jf (relative jumps)
_JGE_K = 0x35  # A >= k ? jt : jf
_RET_K = 0x06  # return k: bytes to keep, 0 = drop
_AD_RANDOM = 0xFFFFF000 + 56  # SKF_AD_OFF + SKF_AD_RANDOM: a load from here gives a random 32-bit number
UDP_HEADER = 8
KEEP = 0xFFFFFFFF  # bytes to keep: all (a dropped datagram is a return of 0)
SCAN_END = 800  # payload bytes searched for "auth"; the kernel refuses much longer unrolled programs
_METHOD = b"REGISTER "
_AUTH = int.from_bytes(b"auth", "big")
_LOWER = 0x20202020  # ASCII letters to lower case, four at a time

Instruction = tuple[int, int, int, int]  # code, jt, jf, k


def shut_out(payload: bytes, scan_end: int = SCAN_END) -> bool:
    """Whether the filter drops ``payload`` (a UDP payload) when it loses the lottery: a REGISTER request
    shorter than ``scan_end`` with no "auth" (any case) after its method. The kernel program makes the same
    decision; a longer REGISTER without it is let through, for the service's own backlog policy to judge."""
    if len(payload) < len(_METHOD) or not payload.startswith(b"REGISTER"):
        return False
    if b"auth" in payload[len(_METHOD):scan_end].lower():
        return False
    return len(payload) < scan_end


def gate_program(admit: float = 0.0, scan_end: int = SCAN_END) -> list[Instruction]:
    """The filter: keep anything that is not a REGISTER; keep a REGISTER that wins the lottery (a share
    ``admit`` of them, drawn from the kernel's random numbers) or in which "auth" (any case) is found at some
    byte offset; a load past the end of the datagram ends a classic BPF program with 0, which is how a
    REGISTER without it is dropped (classic BPF has no loops: the search is unrolled, one offset at a time)."""
    return [*_HEAD, *_lottery(admit), *_search(scan_end), _KEEP]


def packed_program(admit: float, scan_end: int = SCAN_END) -> bytes:
    """``gate_program`` as the kernel reads it (``struct sock_filter[]``); the long search is packed once."""
    return pack([*_HEAD, *_lottery(admit)]) + _packed_search(scan_end) + pack([_KEEP])


def lottery_threshold(admit: float) -> int:
    """Random numbers (32-bit) below this win the lottery: ``admit`` of 2**32, 0 for none."""
    return max(0, min(0xFFFFFFFF, round(admit * (1 << 32))))


_KEEP: Instruction = (_RET_K, 0, 0, KEEP)
_HEAD: tuple[Instruction, ...] = (
    (_LD_LEN, 0, 0, 0),
    (_JGE_K, 1, 0, UDP_HEADER + len(_METHOD)),  # shorter than "REGISTER " (keep-alives): keep
    _KEEP,
    (_LD_W_ABS, 0, 0, UDP_HEADER),
    (_JEQ_K, 1, 0, int.from_bytes(b"REGI", "big")),
    _KEEP,
    (_LD_W_ABS, 0, 0, UDP_HEADER + 4),
    (_JEQ_K, 1, 0, int.from_bytes(b"STER", "big")),
    _KEEP,
)


def _lottery(admit: float) -> list[Instruction]:
    threshold = lottery_threshold(admit)
    if not threshold:
        return []
    return [
        (_LD_W_ABS, 0, 0, _AD_RANDOM),
        (_JGE_K, 1, 0, threshold),  # lost the lottery: on to the search for "auth"
        _KEEP,  # won it: kept as if the gate were open
    ]


def _search(scan_end: int) -> list[Instruction]:
    """Keep at the first "auth"; a load past the datagram's end drops it. A datagram longer than ``scan_end``
    without "auth" in its first ``scan_end`` bytes falls through to the final keep (the service judges it)."""
    program: list[Instruction] = []
    for offset in range(UDP_HEADER + len(_METHOD), UDP_HEADER + scan_end - 3):
        program += [
            (_LD_W_ABS, 0, 0, offset),
            (_OR_K, 0, 0, _LOWER),
            (_JEQ_K, 0, 1, _AUTH),
            _KEEP,
        ]
    return program


@functools.lru_cache(maxsize=4)
def _packed_search(scan_end: int) -> bytes:
    return pack(_search(scan_end))


def pack(program: list[Instruction]) -> bytes:
    """``struct sock_filter[]`` as the kernel reads it."""
    item = struct.Struct("=HBBI")
    return b"".join(item.pack(*instruction) for instruction in program)


@dataclass
class Gate:
    """Which share of new REGISTERs to admit, from how long datagrams waited in the socket queue.

    Additive increase, multiplicative decrease (as TCP does with its window): whenever a datagram waited
    ``high`` or longer, a backlog is building, so the share is halved; whenever the queue is short (under
    ``low``, or empty) the share grows by ``step``, back to 1 (gate open, filter detached). At most one
    change per ``interval``: each change attaches a new filter (~1 ms of kernel work), and the effect of
    one shows only once the queue has turned over. A share never falls below ``floor``, so new phones keep
    trickling in however long an overload lasts. Shares are multiples of 1/64.
    """

    high: float = 0.05
    low: float = 0.01
    interval: float = 0.2
    step: float = 1 / 8
    decrease: float = 0.5  # the share is multiplied by this on a backlog
    floor: float = 1 / 32
    admit: float = 1.0
    changed_at: float = float("-inf")
    closings: int = 0  # times the gate began to shed (share below 1)

    def observe(self, waited: float, drained: bool, now: float) -> float | None:
        """After reading a batch (``waited``: how long its last datagram sat in the queue; ``drained``: the
        queue ran empty), or on the service's timer while shedding. Returns the new share, or None."""
        if now - self.changed_at < self.interval:
            return None
        if waited >= self.high:
            share = max(self.floor, _sixty_fourths(self.admit * self.decrease))
        elif (drained or waited < self.low) and self.admit < 1.0:
            share = min(1.0, _sixty_fourths(self.admit + self.step))
        else:
            return None
        if share == self.admit:
            return None
        if self.admit == 1.0:
            self.closings += 1
        self.admit, self.changed_at = share, now
        return share

    @property
    def shedding(self) -> bool:
        return self.admit < 1.0


def _sixty_fourths(share: float) -> float:
    return round(share * 64) / 64
