"""The REGISTER fast path (``scan_register`` + ``Registrar.handle_view``) against the strict path
(``parse_message`` + ``Registrar.handle``): same request → same response bytes and the same binding,
activity, throttle and counter effects; and the view never accepts what the strict codec rejects."""
from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telephony.digest import NonceSigner, expected_response, ha1
from telephony.location import LocationTable
from telephony.registrar import Registrar
from telephony.sip import Request, Response, SipSyntaxError, parse_message
from telephony.sip.message import salvage_reply_headers
from telephony.sip.view import scan_register

from .conftest import PASSWORDS, REALM, directory

T0 = 1_800_000_000.0
SRC = "udp:127.0.0.1:5062"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sip" / "messages"
_NONCE = re.compile(rb'nonce="([^"]+)"')


def twin() -> Registrar:
    """A registrar whose nonces and tags repeat exactly, so that two of them can be compared byte for byte."""
    salts = itertools.count(1)
    registrar = Registrar(REALM, directory(), LocationTable(),
                          NonceSigner(key=b"k" * 32, salt=lambda: f"{next(salts):012x}"),
                          algorithms=("SHA-256", "MD5"))
    registrar._tag_prefix = "abcdef"
    registrar.throttle.limit = 3
    return registrar


def strict(registrar: Registrar, data: bytes, now: float, source: str = SRC) -> bytes | str:
    try:
        message = parse_message(data)
    except SipSyntaxError as exc:
        return f"malformed: {exc}"
    assert isinstance(message, Request) and message.method == "REGISTER"
    return bytes(registrar.handle(message, source, now))


def fast(registrar: Registrar, data: bytes, now: float, source: str = SRC) -> tuple[bytes | str, bool]:
    """What the service does: the view when it accepts the datagram, else the strict path."""
    view = scan_register(data)
    if view is None:
        return strict(registrar, data, now, source), False
    message = parse_message(data)  # the view accepted it, so the strict codec must too …
    assert view.key == message.transaction_key()  # … with the same transaction identity
    return registrar.handle_view(view, source, now), True


def state(registrar: Registrar) -> tuple[object, ...]:
    loc = registrar.location
    return (loc.bindings, loc.activity, loc.dirty, registrar.stats, registrar.throttle._failures,
            registrar.throttle._blocked_until, next(registrar._tags))


def assert_same(strict_reg: Registrar, fast_reg: Registrar, data: bytes, now: float, source: str = SRC) -> tuple[bytes | str, bool]:
    want = strict(strict_reg, data, now, source)
    got, used_view = fast(fast_reg, data, now, source)
    assert got == want, f"fast path answered differently to:\n{data!r}"
    assert state(fast_reg) == state(strict_reg)
    strict_reg._tags, fast_reg._tags = itertools.count(100), itertools.count(100)  # state() consumed one
    return got, used_view


def message(lines: list[str], body: str = "") -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8")


def base(ext: str = "1001", *, cseq: int = 1, auth: str | None = None, contact: str | None = "<sip:1001@127.0.0.1:5062>",
         expires: str | None = "3600", extra: list[str] | None = None) -> list[str]:
    lines = [
        f"REGISTER sip:{REALM} SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-d1;rport",
        "Max-Forwards: 70",
        f'From: "Desk {ext}" <sip:{ext}@{REALM}>;tag=f1',
        f"To: <sip:{ext}@{REALM}>",
        "Call-ID: call-1@127.0.0.1",
        f"CSeq: {cseq} REGISTER",
    ]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    if expires is not None:
        lines.append(f"Expires: {expires}")
    if auth is not None:
        lines.append(f"Authorization: {auth}")
    lines += extra or []
    lines += ["User-Agent: baresip v1.0.0 (x86_64/linux)", "Content-Length: 0"]
    return lines


def authorization(challenge: bytes, ext: str = "1001", password: str | None = None, algorithm: str = "MD5",
                  uri: str = f"sip:{REALM}", quoted_algorithm: bool = False) -> str:
    nonces = [m.decode() for m in _NONCE.findall(challenge)]
    nonce = nonces[-1] if algorithm == "MD5" else nonces[0]
    secret = ha1(ext, REALM, PASSWORDS.get(ext, "x") if password is None else password, algorithm)
    response = expected_response(secret, "REGISTER", uri, nonce, algorithm, "auth", "00000001", "c0ffee")
    alg = f'"{algorithm}"' if quoted_algorithm else algorithm
    return (f'Digest username="{ext}", realm="{REALM}", nonce="{nonce}", uri="{uri}", response="{response}", '
            f'algorithm={alg}, qop=auth, nc=00000001, cnonce="c0ffee"')


# Each case: the request without credentials, then (built from the challenge) the request with them.
Case = Callable[[bytes], bytes]
CASES: dict[str, tuple[bytes, Case]] = {
    "plain": (message(base()), lambda c: message(base(cseq=2, auth=authorization(c)))),
    "sha-256": (message(base()), lambda c: message(base(cseq=2, auth=authorization(c, algorithm="SHA-256")))),
    "quoted algorithm": (message(base()), lambda c: message(base(cseq=2, auth=authorization(c, quoted_algorithm=True)))),
    "two contacts with own expiry": (message(base()), lambda c: message(base(
        cseq=2, auth=authorization(c), contact="<sip:1001@127.0.0.1:5062>;expires=120, <sip:1001@127.0.0.1:5064>",
        expires="99999"))),
    "two contact lines": (message(base()), lambda c: message(base(
        cseq=2, auth=authorization(c), extra=["Contact: <sip:1001@127.0.0.1:5066;transport=tcp>"]))),
    "baresip contact": (message(base()), lambda c: message(base(
        cseq=2, auth=authorization(c),
        contact='"Desk" <sip:1001-0x55@127.0.0.1:5062;transport=udp>;expires=600;+sip.instance="<urn:uuid:1-2>";reg-id=1'))),
    "query without contact": (message(base(contact=None)), lambda c: message(base(cseq=2, auth=authorization(c), contact=None))),
    "unregister all": (message(base()), lambda c: message(base(cseq=2, auth=authorization(c), contact="*", expires="0"))),
    "star with expires": (message(base()), lambda c: message(base(cseq=2, auth=authorization(c), contact="*"))),
    "expires 0": (message(base()), lambda c: message(base(cseq=2, auth=authorization(c), expires="0"))),
    "too brief": (message(base()), lambda c: message(base(cseq=2, auth=authorization(c), expires="30"))),
    "bad expires": (message(base()), lambda c: message(base(cseq=2, auth=authorization(c), expires="soon"))),
    "bad contact expires": (message(base()), lambda c: message(base(
        cseq=2, auth=authorization(c), contact="<sip:1001@127.0.0.1:5062>;expires=x"))),
    "wrong password": (message(base()), lambda c: message(base(cseq=2, auth=authorization(c, password="wrong")))),
    "unknown extension": (message(base("9999")), lambda c: message(base("9999", cseq=2, auth=authorization(c, "9999")))),
    "other user's credentials": (message(base()), lambda c: message(base(cseq=2, auth=authorization(c, "2001")))),
    "forged nonce": (message(base()), lambda c: message(base(cseq=2, auth=authorization(
        c.replace(b'nonce="', b'nonce="0'))))),
    "wrong realm": (message(base()), lambda c: message(base(cseq=2, auth=authorization(c).replace(
        f'realm="{REALM}"', 'realm="elsewhere"')))),
    "basic scheme": (message(base()), lambda c: message(base(cseq=2, auth="Basic dXNlcjpwYXNz"))),
    "auth lacks response": (message(base()), lambda c: message(base(cseq=2, auth=re.sub(
        r'response="[0-9a-f]+", ', "", authorization(c))))),
    "auth garbage": (message(base()), lambda c: message(base(cseq=2, auth='Digest username="1001, realm'))),
    "to without user": (message(base()), lambda c: message([
        line if not line.startswith("To:") else f"To: <sip:{REALM}>" for line in base(cseq=2, auth=authorization(c))])),
    "to not a uri": (message(base()), lambda c: message([
        line if not line.startswith("To:") else "To: nothing" for line in base(cseq=2, auth=authorization(c))])),
    "to with display name and tag": (message(base()), lambda c: message([
        line if not line.startswith("To:") else f'To: "Desk" <sip:1001@{REALM}>;tag=x1'
        for line in base(cseq=2, auth=authorization(c))])),
    "compact and odd spelling": (message(base()), lambda c: message([
        line.replace("Via:", "v:").replace("Contact:", "m:").replace("Call-ID:", "i:").replace("Content-Length:", "l:")
        .replace("CSeq:", "CSEQ :").replace("To:", "to:   ") for line in base(cseq=2, auth=authorization(c))])),
    "two via lines": (message(base()), lambda c: message(base(cseq=2, auth=authorization(c)) [:2]
        + ["Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKother"] + base(cseq=2, auth=authorization(c))[2:])),
    "via list on one line": (message(base()), lambda c: message([
        line + ", SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx" if line.startswith("Via:") else line
        for line in base(cseq=2, auth=authorization(c))])),
    "body with content-length": (message(base()), lambda c: message(
        [line for line in base(cseq=2, auth=authorization(c)) if not line.startswith("Content-Length")]
        + ["Content-Length: 4"], "abcdEXTRA")),
    "unknown headers": (message(base()), lambda c: message(base(
        cseq=2, auth=authorization(c), extra=["Supported: path, gruu", "X-Odd-Header-Name: 1", "Allow: INVITE, ACK"]))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fast_path_answers_as_the_strict_path(name: str) -> None:
    first, second = CASES[name]
    a, b = twin(), twin()
    challenge, _ = assert_same(a, b, first, T0)
    assert_same(a, b, second(challenge if isinstance(challenge, bytes) else b""), T0 + 1)


def test_the_usual_phones_take_the_fast_path() -> None:
    """The point of the view: sipp-, baresip- and linphone-shaped REGISTERs must not fall back."""
    a, b = twin(), twin()
    for name in ("plain", "sha-256", "two contacts with own expiry", "baresip contact", "unregister all", "wrong password"):
        first, second = CASES[name]
        challenge, used = assert_same(a, b, first, T0)
        assert used, name
        _, used = assert_same(a, b, second(challenge), T0 + 1)  # type: ignore[arg-type]
        assert used, name


def test_reregistration_cseq_order_throttle_and_stale_nonce() -> None:
    a, b = twin(), twin()
    challenge, _ = assert_same(a, b, message(base()), T0)
    assert_same(a, b, message(base(cseq=2, auth=authorization(challenge))), T0 + 1)  # type: ignore[arg-type]
    assert_same(a, b, message(base(cseq=2, auth=authorization(challenge))), T0 + 2)  # same CSeq → 500
    assert_same(a, b, message(base(cseq=3, auth=authorization(challenge), expires="600")), T0 + 3)
    assert_same(a, b, message(base(cseq=9, auth=authorization(challenge))), T0 + 100)  # stale nonce → 401 stale
    for i in range(4):  # wrong passwords until blocked (limit 3), then 403 while blocked
        assert_same(a, b, message(base(cseq=10 + i, auth=authorization(challenge, password="no"))), T0 + 5 + i)
    assert_same(a, b, message(base(cseq=20)), T0 + 10)
    assert a.location.bindings and a.throttle._blocked_until


MALFORMED = sorted(p for p in (FIXTURES / "malformed").iterdir() if p.suffix == ".sip")


@pytest.mark.parametrize("path", MALFORMED, ids=lambda p: p.stem)
def test_view_refuses_every_malformed_fixture(path: Path) -> None:
    data = path.read_bytes()
    if not data.startswith(b"REGISTER "):
        data = b"REGISTER " + data.partition(b" ")[2]
    try:
        parse_message(data)
    except SipSyntaxError:
        assert scan_register(data) is None
    else:  # made valid by the method swap: then both paths must agree
        a, b = twin(), twin()
        assert_same(a, b, data, T0)


def test_busy_answer_matches_the_salvaged_one() -> None:
    """The service's 503 under backlog: the view's rendering equals the one built from salvaged headers."""
    data = message([line.replace("Via:", "v:").replace("To:", "t:").replace("Call-ID:", "call-id:")
                    for line in base(extra=["Via: SIP/2.0/UDP 10.1.1.1:5060;branch=z9hG4bK2"])])
    view = scan_register(data)
    assert view is not None
    response = Response(headers=salvage_reply_headers(data), status=503, reason="Service Unavailable")  # type: ignore[arg-type]
    response.headers.add("Retry-After", "5")
    response.headers.add("Content-Length", "0")
    assert view.render(503, "Service Unavailable", None, [("Retry-After", "5"), ("Content-Length", "0")]) == bytes(response)


VALID = message(base(cseq=2, auth='Digest username="1001", realm="wangnet.ordos", nonce="6b0.1.2", uri="sip:wangnet.ordos", '
                     'response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0"',
                     contact='"Desk" <sip:1001@127.0.0.1:5062;transport=udp>;expires=600, <sip:1001@127.0.0.1:5064>'))
_LINES = VALID.split(b"\r\n")
_junk = st.sampled_from([b" ", b"\t", b"\r", b"\n", b"\r\n", b"\r\n ", b":", b",", b";", b'"', b"<", b">", b"\x00",
                         b"\xc3\xa9", b"\xff", b"0", b"x", b"=", b"*", b"@", b"REGISTER", b"SIP/2.0", b"\r\n\r\n"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(VALID)), st.lists(_junk, min_size=1, max_size=3), st.integers(0, 4))
def test_mutated_registers_answer_the_same(position: int, junk: list[bytes], cut: int) -> None:
    data = VALID[:position] + b"".join(junk) + VALID[position + cut:]
    a, b = twin(), twin()
    if not data.startswith(b"REGISTER "):
        assert scan_register(data) is None
        return
    assert_same(a, b, data, T0)


@settings(max_examples=200, deadline=None)
@given(st.permutations(list(range(1, len(_LINES) - 2))), st.lists(st.integers(1, len(_LINES) - 3), max_size=3),
       st.sampled_from([str.lower, str.upper, lambda s: s]))
def test_reordered_duplicated_and_recased_headers_answer_the_same(order: list[int], dups: list[int], case) -> None:  # type: ignore[no-untyped-def]
    lines = [_LINES[0]] + [_LINES[i] for i in order] + [_LINES[i] for i in dups]
    lines = [lines[0]] + [case(l.decode()).encode() if i % 2 else l for i, l in enumerate(lines[1:])]
    data = b"\r\n".join(lines) + b"\r\n\r\n"
    a, b = twin(), twin()
    assert_same(a, b, data, T0)
