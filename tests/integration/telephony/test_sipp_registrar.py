"""The registrar against sipp, a real SIP client: digest, re-register, unregister, throttling, retransmissions, junk."""
from __future__ import annotations

import logging
import re
import socket
import threading
import time
from select import select as wait_readable

from sqlalchemy import select

from telephony.models import Binding, Phone

from .conftest import SipHarness, free_port


def _ok(result) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 0, f"sipp failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"


def test_register_reregister_unregister(sip: SipHarness, phones) -> None:  # type: ignore[no-untyped-def]
    pw = phones["1001"][0]
    port = free_port()
    _ok(sip.sipp("register.xml", "1001", pw, local_port=port, expires=600))
    [first] = sip.bindings("1001")
    assert first.contact == f"sip:1001@127.0.0.1:{port};transport=UDP"
    assert first.source == f"udp:127.0.0.1:{port}" and first.user_agent == "sipp-test"
    sip.flush()
    with sip.store.session() as s:
        phone = s.scalars(select(Phone).where(Phone.extension == "1001")).one()
        assert phone.last_user_agent == "sipp-test" and phone.last_registered_at is not None
        [row] = s.scalars(select(Binding).where(Binding.phone_id == phone.id)).all()
        assert row.contact == first.contact and row.source == first.source

    _ok(sip.sipp("register.xml", "1001", pw, local_port=port, expires=900))  # re-register: same contact, refreshed
    [again] = sip.bindings("1001")
    assert again.contact == first.contact and again.call_id != first.call_id
    assert again.registered_at == first.registered_at and again.updated_at > first.updated_at
    assert 899 <= again.expires_at - again.updated_at <= 900

    _ok(sip.sipp("unregister.xml", "1001", pw, local_port=port))
    assert sip.bindings("1001") == []
    sip.flush()
    with sip.store.session() as s:
        assert s.scalars(select(Binding)).all() == []


def test_register_over_tcp(sip: SipHarness, phones) -> None:  # type: ignore[no-untyped-def]
    _ok(sip.sipp("register.xml", "2001", phones["2001"][0], transport="t1"))
    [binding] = sip.bindings("2001")
    assert binding.source.startswith("tcp:127.0.0.1:") and binding.contact.endswith(";transport=TCP")


def test_wrong_password_challenged_again_then_throttled(sip: SipHarness, phones, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="telephony.registrar")
    _ok(sip.sipp("wrong_password.xml", "1001", "not-the-password"))
    assert sip.bindings("1001") == []
    # the right password from the same source is refused while the block lasts
    refused = sip.sipp("register.xml", "1001", phones["1001"][0], timeout=10)
    assert refused.returncode != 0 and "403" in refused.stdout
    assert sip.bindings("1001") == []
    assert any("blocked" in r.getMessage() and "127.0.0.1" in r.getMessage() for r in caplog.records)
    assert not any(phones["1001"][0] in r.getMessage() or "not-the-password" in r.getMessage() for r in caplog.records)
    sip.flush()
    with sip.store.session() as s:
        phone = s.scalars(select(Phone).where(Phone.extension == "1001")).one()
        assert phone.failed_attempts == 3 and phone.last_failure_at is not None


def test_retransmitted_register_one_binding_one_answer(sip: SipHarness, phones) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    keys = ("-key", "txbranch", f"z9hG4bK-retrans-{port}", "-cid_str", f"retrans-{port}@%s")
    _ok(sip.sipp("retransmit.xml", "1001", phones["1001"][0], local_port=port, extra=keys))
    assert sip.service.registrar.stats.registrations == 1
    _ok(sip.sipp("retransmit.xml", "1001", phones["1001"][0], local_port=port, extra=keys))
    assert sip.service.registrar.stats.registrations == 1  # answered, not redone
    assert sip.service.retransmissions == 1
    assert len(sip.bindings("1001")) == 1


def test_malformed_messages_answered_or_dropped_and_service_alive(sip: SipHarness, phones) -> None:  # type: ignore[no-untyped-def]
    result = sip.sipp("malformed.xml", "1001", phones["1001"][0])
    _ok(result)
    assert "Via has no branch" in result.stdout and "alive, Allow:" in result.stdout
    assert sip.service.malformed >= 5
    _ok(sip.sipp("register.xml", "1001", phones["1001"][0]))  # still registering


def test_bindings_survive_a_restart(make_sip, phones) -> None:  # type: ignore[no-untyped-def]
    first = make_sip(algorithms=("MD5",))
    port = free_port()
    _ok(first.sipp("register.xml", "2001", phones["2001"][0], local_port=port))
    [before] = first.bindings("2001")
    first.runtime.stop()  # stop() writes pending bindings behind
    second = make_sip(algorithms=("MD5",))
    assert second.port != 0
    [after] = second.bindings("2001")
    assert (after.contact, after.source, after.call_id, after.cseq) == (before.contact, before.source, before.call_id, before.cseq)
    assert abs(after.expires_at - before.expires_at) < 1e-3
    # the restored binding is used for routing: an OPTIONS to the extension reaches a phone on that port
    phone = second.sipp_background("phone_answer_options.xml", port)
    try:
        result = second.sipp("options_to_phone.xml", "1001", phones["1001"][0], extra=("-key", "target", "2001"))
        _ok(result)
        assert "answered by the phone" in result.stdout
        assert phone.wait(timeout=30) == 0
    finally:
        if phone.poll() is None:
            phone.kill()
            phone.wait()


def test_unknown_extension_404_and_unregistered_480(sip: SipHarness, phones) -> None:  # type: ignore[no-untyped-def]
    not_found = sip.sipp("options_expect.xml", "1001", phones["1001"][0], extra=("-key", "target", "9999"))
    _ok(not_found)
    assert re.search(r"404 <-+\s+1\s", not_found.stdout), not_found.stdout
    unavailable = sip.sipp("options_expect.xml", "1001", phones["1001"][0], extra=("-key", "target", "3001"))
    _ok(unavailable)
    assert re.search(r"480 <-+\s+1\s", unavailable.stdout), unavailable.stdout


def test_cancel_of_a_ringing_call(sip: SipHarness, phones) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    _ok(sip.sipp("register.xml", "2001", phones["2001"][0], local_port=port))
    phone = sip.sipp_background("phone_ring_cancelled.xml", port)
    try:
        caller = sip.sipp("call_cancel.xml", "1001", phones["1001"][0], extra=("-key", "target", "2001"))
        _ok(caller)
        assert phone.wait(timeout=30) == 0, phone.stdout.read() if phone.stdout else ""
    finally:
        if phone.poll() is None:
            phone.kill()
            phone.wait()
    stats = sip.service.proxy.stats
    assert stats.calls_attempted == 1 and stats.calls_answered == 0


def test_stale_datagrams_are_shed_unparsed_and_the_retransmission_served(make_sip, phones) -> None:  # type: ignore[no-untyped-def]
    """A REGISTER that waited in the socket queue longer than max_queue_age is dropped before parsing
    (its sender has retransmitted it already); the later retransmission is answered and the client succeeds."""
    sip = make_sip(algorithms=("MD5",), max_queue_age=0.3)
    blocked = threading.Event()

    async def block_loop() -> None:  # stands in for an overload: the loop is busy until a REGISTER waited 1 s
        blocked.set()
        deadline = time.monotonic() + 30
        sock = sip.service._udp
        while time.monotonic() < deadline:  # sipp may start slowly on a loaded machine: wait for its REGISTER
            if not wait_readable([sock], [], [], 0.05)[0]:
                continue
            try:
                if sock.recv(9, socket.MSG_PEEK) == b"REGISTER ":
                    break
                sock.recv(65535)  # not sipp's (nothing else should be here): out of the way
            except OSError:  # a pending socket error (it makes select say readable) is consumed by the call
                continue
        time.sleep(1.0)  # well beyond max_queue_age (0.3 s)

    sip.runtime.submit(block_loop())
    blocked.wait(10)
    result = sip.sipp("register.xml", "1001", phones["1001"][0])
    _ok(result)
    assert sip.service.shed >= 1
    assert len(sip.bindings("1001")) == 1


def test_metrics(sip: SipHarness, phones) -> None:  # type: ignore[no-untyped-def]
    from prometheus_client import generate_latest

    _ok(sip.sipp("register.xml", "1001", phones["1001"][0]))
    _ok(sip.sipp("wrong_password.xml", "2001", "wrong"))
    sip.call(sip.service._update_metrics)
    text = generate_latest(sip.service.metrics.registry).decode()
    assert "wangnet_sip_bindings 1.0" in text
    assert "wangnet_sip_registrations_total 1.0" in text
    assert "wangnet_sip_auth_failures_total 3.0" in text
    assert re.search(r"wangnet_sip_transaction_cache_entries [1-9]", text)
