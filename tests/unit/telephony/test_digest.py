"""Digest authentication against the RFCs' own vectors; stateless nonces."""
from __future__ import annotations

import pytest

from telephony.digest import Credentials, NonceSigner, challenge, expected_response, ha1


def test_rfc2617_md5_vector() -> None:
    h = ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    assert h == "939e7578ed9e3c518a452acee763bce9"
    resp = expected_response(h, "GET", "/dir/index.html", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "MD5", "auth", "00000001", "0a4f113b")
    assert resp == "6629fae49393a05397450978507c4ef1"


@pytest.mark.parametrize(
    "algorithm, response",
    [("MD5", "8ca523f5e9506fed4657c9700eebdbec"), ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")],
)
def test_rfc7616_vectors(algorithm: str, response: str) -> None:
    h = ha1("Mufasa", "http-auth@example.org", "Circle of Life", algorithm)
    nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
    cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    assert expected_response(h, "GET", "/dir/index.html", nonce, algorithm, "auth", "00000001", cnonce) == response


def test_ha1_rejects_unknown_algorithm() -> None:
    with pytest.raises(ValueError, match="unsupported digest algorithm 'SHA-1'"):
        ha1("a", "b", "c", "SHA-1")


def test_rfc2069_without_qop() -> None:
    h = ha1("1001", "wangnet.ordos", "pw")
    creds = Credentials("1001", "wangnet.ordos", "n", "sip:wangnet.ordos", expected_response(h, "REGISTER", "sip:wangnet.ordos", "n"))
    assert creds.verify(h, "REGISTER")
    assert not creds.verify(ha1("1001", "wangnet.ordos", "other"), "REGISTER")
    assert not creds.verify(h, "INVITE")


def test_nonce_states() -> None:
    signer = NonceSigner(key=b"k" * 32, lifetime=30)
    nonce = signer.make("wangnet.ordos", 1000.0)
    assert signer.make("wangnet.ordos", 1000.0) != nonce  # salted
    assert signer.check("wangnet.ordos", nonce, 1010.0) == "ok"
    assert signer.check("wangnet.ordos", nonce, 1031.0) == "stale"
    assert signer.check("other.realm", nonce, 1010.0) == "invalid"
    assert signer.check("wangnet.ordos", nonce[:-1] + ("0" if nonce[-1] != "0" else "1"), 1010.0) == "invalid"
    assert signer.check("wangnet.ordos", "garbage", 1010.0) == "invalid"
    assert NonceSigner(key=b"x" * 32).check("wangnet.ordos", nonce, 1010.0) == "invalid"


def test_challenge_text() -> None:
    assert challenge("r", "n", "SHA-256", stale=True) == 'Digest realm="r", nonce="n", algorithm=SHA-256, qop="auth", stale=true'


@pytest.mark.parametrize(
    "params, error",
    [
        ({"realm": "r", "nonce": "n", "uri": "u", "response": "x"}, "Authorization lacks username"),
        ({"username": "u", "realm": "r", "nonce": "n", "uri": "u", "response": "x", "algorithm": "SHA-512"},
         "Authorization uses unsupported algorithm 'SHA-512'"),
        ({"username": "u", "realm": "r", "nonce": "n", "uri": "u", "response": "x", "qop": "auth-int"},
         "Authorization uses unsupported qop 'auth-int'"),
        ({"username": "u", "realm": "r", "nonce": "n", "uri": "u", "response": "x", "qop": "auth"},
         "Authorization with qop lacks nc or cnonce"),
    ],
)
def test_credentials_errors(params: dict[str, str], error: str) -> None:
    with pytest.raises(ValueError) as info:
        Credentials.from_params(params)
    assert str(info.value) == error
