"""Small state holders: the transaction cache, the throttle, the location table's dirty tracking."""
from __future__ import annotations

from telephony.location import BindingRecord, LocationTable
from telephony.throttle import FailureThrottle
from telephony.transactions import ResponseCache


def test_response_cache_expiry_and_bound() -> None:
    cache = ResponseCache(ttl=32, max_entries=2)
    cache.put(b"a", b"A", 0)
    assert cache.get(b"a", 10) == b"A" and cache.hits == 1
    assert cache.get(b"a", 33) is None and len(cache) == 0
    cache.put(b"a", b"A", 0)
    cache.put(("branch", "h", 1, "REGISTER"), b"B", 1)
    cache.put(b"c", b"C", 2)
    assert cache.get(b"a", 3) is None and len(cache) == 2  # oldest evicted
    assert cache.sweep(33.5) == 1 and len(cache) == 1


def test_throttle() -> None:
    t = FailureThrottle(limit=3, window=10, block=30)
    assert not t.fail("h", 0) and not t.fail("h", 20)  # outside the window: not counted together
    assert not t.fail("h", 21)
    assert t.fail("h", 22) and t.blocked("h", 23) and t.retry_after("h", 23) == 29
    assert not t.blocked("h", 52.1)
    t.fail("x", 0)
    t.succeed("x")
    t.sweep(100)
    assert t._failures == {} and t._blocked_until == {}


def _rec(contact: str, expires: float) -> BindingRecord:
    return BindingRecord(contact, expires, "c", 1, "ua", "udp:127.0.0.1:1", 0, 0)


def test_location_dirty_snapshot() -> None:
    table = LocationTable()
    table.put("1001", _rec("sip:a", 100))
    table.failed("2001", 5)
    bindings, activity = table.take_dirty()
    assert [r.contact for r in bindings["1001"]] == ["sip:a"] and bindings["2001"] == []
    assert activity["2001"].new_failures == 1
    assert table.take_dirty() == ({}, {})
    table.remove("1001", "sip:a")
    assert table.take_dirty()[0] == {"1001": []}
    table.put("1001", _rec("sip:b", 10))
    table.take_dirty()
    assert table.expire(11) == 1 and table.dirty == {"1001"} and table.count() == 0
