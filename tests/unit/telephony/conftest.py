"""Helpers for the telephony unit tests: a SIP client's side of REGISTER, computed from first principles."""
from __future__ import annotations

import itertools

from telephony.digest import expected_response, ha1
from telephony.directory import Directory, PhoneCredentials
from telephony.sip import Request, Response, parse_auth_params

REALM = "wangnet.ordos"
PASSWORDS = {"1001": "pw-1001", "2001": "pw-2001"}
_branches = itertools.count(1)


def directory() -> Directory:
    return Directory({
        ext: PhoneCredentials(i, ext, f"site{i}", REALM, ha1(ext, REALM, pw), ha1(ext, REALM, pw, "SHA-256"))
        for i, (ext, pw) in enumerate(PASSWORDS.items(), start=1)
    })


def register(ext: str = "1001", *, contact: str | None = "<sip:1001@127.0.0.1:5062>", expires: str | None = None,
             cseq: int = 1, call_id: str = "call-1", auth: str | None = None, extra: str = "") -> Request:
    lines = [
        f"REGISTER sip:{REALM} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK{next(_branches)}",
        f"From: <sip:{ext}@{REALM}>;tag=f1",
        f"To: <sip:{ext}@{REALM}>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
    ]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    if expires is not None:
        lines.append(f"Expires: {expires}")
    if auth:
        lines.append(f"Authorization: {auth}")
    if extra:
        lines.append(extra)
    lines.append("User-Agent: unit-test")
    lines.append("Content-Length: 0")
    return Request.parse(("\r\n".join(lines) + "\r\n\r\n").encode())


def answer(challenge: Response, ext: str, password: str, algorithm: str = "MD5", uri: str = f"sip:{REALM}") -> str:
    """The Authorization a phone sends after ``challenge``, for the WWW-Authenticate offering ``algorithm``."""
    for value in challenge.headers.get_lines("WWW-Authenticate"):
        _, params = parse_auth_params(value)
        if params["algorithm"] == algorithm:
            break
    else:
        raise AssertionError(f"no {algorithm} challenge")
    h = ha1(ext, params["realm"], password, algorithm)
    resp = expected_response(h, "REGISTER", uri, params["nonce"], algorithm, "auth", "00000001", "c0ffee")
    return (f'Digest username="{ext}", realm="{params["realm"]}", nonce="{params["nonce"]}", uri="{uri}", '
            f'response="{resp}", algorithm={algorithm}, qop=auth, nc=00000001, cnonce="c0ffee"')
