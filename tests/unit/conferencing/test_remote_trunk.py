"""The pure parts of trunks between processes: the request body, and when an offered trunk is dropped."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from conferencing.remote_trunk import (
    ANSWER_SECONDS, IDLE_SECONDS, PROBE_SECONDS, OutgoingTrunk, TrunkRequestError, parse_trunk_request, trunk_request,
)


def test_trunk_request_round_trips() -> None:
    assert parse_trunk_request(trunk_request(("dalad", "city", "shulinzhao"))) == ("dalad", "city", "shulinzhao")


@pytest.mark.parametrize("body, message", [
    (b"", "the trunk request is not JSON"),
    (b"[1]", 'the trunk request must be a JSON object {"from", "to", "site"}'),
    (b'{"to": "city", "site": "x"}', '"from" must be a site id (a non-empty string), not None'),
    (b'{"from": "dalad", "to": 7, "site": "x"}', '"to" must be a site id (a non-empty string), not 7'),
    (b'{"from": "dalad", "to": "city", "site": ""}', "\"site\" must be a site id (a non-empty string), not ''"),
])
def test_bad_trunk_requests_say_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(TrunkRequestError) as err:
        parse_trunk_request(body)
    assert str(err.value).startswith(message)


def _outgoing(state: str = "connected", stale: bool = False) -> OutgoingTrunk:
    sender = SimpleNamespace(pc=SimpleNamespace(connectionState=state), stale=stale)
    return OutgoingTrunk("t1", ("dalad", "city", "shulinzhao"), sender, created=100.0, last_seen=100.0)  # type: ignore[arg-type]


def test_an_offered_trunk_is_dropped_when_unanswered_unprobed_or_failed() -> None:
    out = _outgoing()
    assert out.expired(101.0) is None and out.state(101.0) == "connecting"
    assert out.expired(100.0 + ANSWER_SECONDS + 1) == f"no answer within {ANSWER_SECONDS:.0f} s"
    out.answered = True
    out.last_seen = 100.0 + ANSWER_SECONDS
    assert out.expired(100.0 + ANSWER_SECONDS + 1) is None and out.state(100.0 + ANSWER_SECONDS + 1) == "up"
    assert out.state(100.0 + ANSWER_SECONDS + 3 * PROBE_SECONDS + 1) == "lost"  # the downstream stopped probing
    assert "has not probed it" in (out.expired(100.0 + ANSWER_SECONDS + IDLE_SECONDS + 1) or "")
    assert _outgoing("failed").expired(101.0) == "its connection failed"
    # its source now publishes another codec than the leg negotiated: dropped, the downstream pulls it again
    assert _outgoing(stale=True).expired(101.0) == "its source changed codec"
