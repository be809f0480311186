"""Registrar decisions: challenges, bindings and their expiry, wildcard removal, 423, throttling."""
from __future__ import annotations

import pytest

from telephony.digest import NonceSigner
from telephony.location import LocationTable
from telephony.registrar import Registrar
from telephony.throttle import FailureThrottle

from .conftest import PASSWORDS, REALM, answer, directory, register

T0 = 1_800_000_000.0
SRC = "udp:127.0.0.1:5062"


@pytest.fixture
def registrar() -> Registrar:
    return Registrar(REALM, directory(), LocationTable(), NonceSigner(key=b"k" * 32), algorithms=("SHA-256", "MD5"))


def registered(r: Registrar, ext: str = "1001", now: float = T0, algorithm: str = "MD5", **kw):  # type: ignore[no-untyped-def]
    challenge = r.handle(register(ext, **kw), SRC, now)
    assert challenge.status == 401
    return r.handle(register(ext, auth=answer(challenge, ext, PASSWORDS[ext], algorithm), **kw), SRC, now)


def test_no_credentials_gets_both_challenges_most_preferred_first(registrar: Registrar) -> None:
    resp = registrar.handle(register(), SRC, T0)
    assert (resp.status, resp.reason) == (401, "Unauthorized")
    lines = resp.headers.get_lines("WWW-Authenticate")
    assert [l.split("algorithm=")[1].split(",")[0] for l in lines] == ["SHA-256", "MD5"]
    assert all('qop="auth"' in l and f'realm="{REALM}"' in l for l in lines)
    assert resp.to.tag and resp.call_id == "call-1"
    assert registrar.location.count() == 0


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_register_with_each_algorithm(registrar: Registrar, algorithm: str) -> None:
    resp = registered(registrar, algorithm=algorithm)
    assert resp.status == 200
    assert resp.headers.get_all("Contact") == ["<sip:1001@127.0.0.1:5062>;expires=3600"]
    [b] = registrar.location.current("1001", T0 + 1)
    assert (b.contact, b.source, b.user_agent, b.cseq) == ("sip:1001@127.0.0.1:5062", SRC, "unit-test", 1)
    assert registrar.location.activity["1001"].last_registered_at == T0


def test_several_contacts_with_own_expiry_and_max_clamp(registrar: Registrar) -> None:
    resp = registered(registrar, contact="<sip:1001@127.0.0.1:5062>;expires=120, <sip:1001@127.0.0.1:5064>", expires="99999")
    assert sorted(resp.headers.get_all("Contact")) == [
        "<sip:1001@127.0.0.1:5062>;expires=120", "<sip:1001@127.0.0.1:5064>;expires=7200"]
    assert [b.contact for b in registrar.location.current("1001", T0 + 121)] == ["sip:1001@127.0.0.1:5064"]


def test_reregister_refreshes_and_query_lists(registrar: Registrar) -> None:
    registered(registrar, cseq=1, expires="600")
    resp = registered(registrar, now=T0 + 300, cseq=3, expires="600")
    assert resp.headers.get_all("Contact") == ["<sip:1001@127.0.0.1:5062>;expires=600"]
    [b] = registrar.location.current("1001", T0 + 301)
    assert b.registered_at == T0 and b.updated_at == T0 + 300 and b.cseq == 3
    query = registered(registrar, now=T0 + 310, contact=None, cseq=5)
    assert query.headers.get_all("Contact") == ["<sip:1001@127.0.0.1:5062>;expires=590"]


def test_out_of_order_cseq_is_refused(registrar: Registrar) -> None:
    registered(registrar, cseq=5)
    assert registered(registrar, cseq=4).status == 500


def test_unregister_one_and_all(registrar: Registrar) -> None:
    registered(registrar, contact="<sip:1001@127.0.0.1:5062>, <sip:1001@127.0.0.1:5064>", cseq=1)
    resp = registered(registrar, contact="<sip:1001@127.0.0.1:5062>;expires=0", cseq=2)
    assert resp.headers.get_all("Contact") == ["<sip:1001@127.0.0.1:5064>;expires=3600"]
    resp = registered(registrar, contact="*", expires="0", cseq=3)
    assert resp.status == 200 and resp.headers.get_all("Contact") == []
    assert registrar.location.current("1001", T0) == []


@pytest.mark.parametrize("contact, expires", [("*", "60"), ("*", None), ("*, <sip:1001@h>", "0")])
def test_wildcard_needs_expires_zero_alone(registrar: Registrar, contact: str, expires: str | None) -> None:
    resp = registered(registrar, contact=contact, expires=expires)
    assert resp.status == 400
    assert resp.headers.get("Warning") == '399 wangnet "Contact: * needs Expires: 0 and no other contact"'


def test_interval_too_brief(registrar: Registrar) -> None:
    resp = registered(registrar, expires="30")
    assert (resp.status, resp.headers.get("Min-Expires")) == (423, "60")
    assert registrar.location.count() == 0


def test_bad_expires(registrar: Registrar) -> None:
    assert registered(registrar, expires="soon").headers.get("Warning") == '399 wangnet "invalid Expires \'soon\'"'


def test_expiry(registrar: Registrar) -> None:
    registered(registrar, expires="60")
    assert registrar.location.current("1001", T0 + 59)
    assert registrar.location.current("1001", T0 + 61) == []
    assert registrar.location.expire(T0 + 61) == 0  # current() already pruned it
    registered(registrar, now=T0 + 100, expires="60", cseq=2)
    assert registrar.location.expire(T0 + 200) == 1


def test_wrong_password_is_challenged_again_then_throttled(registrar: Registrar) -> None:
    registrar.throttle = FailureThrottle(limit=3, window=60, block=120)
    statuses = []
    for i in range(3):
        challenge = registrar.handle(register(), SRC, T0 + i)
        statuses.append(registrar.handle(register(auth=answer(challenge, "1001", "wrong")), SRC, T0 + i).status)
    assert statuses == [401, 401, 403]
    blocked = registrar.handle(register(), SRC, T0 + 5)
    assert blocked.status == 403 and blocked.headers.get("Retry-After") == "117"
    assert registrar.location.activity["1001"].new_failures == 3
    assert registrar.stats.auth_failures == 3
    # another source is not affected, and the block lifts
    assert registrar.handle(register(), "udp:127.0.0.9:5062", T0 + 5).status == 401
    assert registered(registrar, now=T0 + 130).status == 200


def test_username_must_match_to_and_unknown_users_fail_like_wrong_passwords(registrar: Registrar) -> None:
    challenge = registrar.handle(register("1001"), SRC, T0)
    # 2001's valid credentials presented for 1001's To
    assert registrar.handle(register("1001", auth=answer(challenge, "2001", PASSWORDS["2001"])), SRC, T0).status == 401
    challenge = registrar.handle(register("9999"), SRC, T0)
    assert challenge.status == 401  # no enumeration: unknown users are challenged too
    assert registrar.handle(register("9999", auth=answer(challenge, "9999", "x")), SRC, T0).status == 401
    assert registrar.stats.auth_failures == 2


def test_stale_nonce_with_right_password_gets_stale_challenge(registrar: Registrar) -> None:
    challenge = registrar.handle(register(), SRC, T0)
    resp = registrar.handle(register(auth=answer(challenge, "1001", PASSWORDS["1001"])), SRC, T0 + 60)
    assert resp.status == 401 and all("stale=true" in v for v in resp.headers.get_lines("WWW-Authenticate"))
    assert registrar.stats.auth_failures == 0


def test_forged_nonce_is_just_challenged(registrar: Registrar) -> None:
    other = Registrar(REALM, directory(), LocationTable(), NonceSigner(key=b"z" * 32))
    challenge = other.handle(register(), SRC, T0)
    resp = registrar.handle(register(auth=answer(challenge, "1001", PASSWORDS["1001"])), SRC, T0)
    assert resp.status == 401 and registrar.location.count() == 0


def test_algorithm_not_offered_is_refused() -> None:
    md5_only = Registrar(REALM, directory(), LocationTable(), NonceSigner(key=b"k" * 32), algorithms=("MD5",))
    both = Registrar(REALM, directory(), LocationTable(), NonceSigner(key=b"k" * 32), algorithms=("SHA-256", "MD5"))
    challenge = both.handle(register(), SRC, T0)
    assert md5_only.handle(register(auth=answer(challenge, "1001", PASSWORDS["1001"], "SHA-256")), SRC, T0).status == 401


def test_malformed_authorization_is_400(registrar: Registrar) -> None:
    resp = registrar.handle(register(auth='Digest username="1001", realm="wangnet.ordos"'), SRC, T0)
    assert resp.status == 400 and resp.headers.get("Warning") == '399 wangnet "Authorization lacks nonce"'


def test_disabled_phone_cannot_register(registrar: Registrar) -> None:
    from dataclasses import replace

    registrar.directory.phones["1001"] = replace(registrar.directory.phones["1001"], enabled=False)
    challenge = registrar.handle(register(), SRC, T0)
    assert registrar.handle(register(auth=answer(challenge, "1001", PASSWORDS["1001"])), SRC, T0).status == 401
