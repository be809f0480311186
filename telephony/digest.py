"""SIP digest authentication (RFC 3261 §22, RFC 2617 qop=auth, RFC 8760 SHA-256), pure functions.

The registry stores HA1 = H(username:realm:password) per algorithm, never the
password. Nonces are stateless: ``<hex timestamp>.<hex salt>.<HMAC>`` signed
with a per-process key, so the registrar keeps no per-challenge state and can
tell a forged nonce (rejected) from an expired one (``stale=true``: the client
retries at once with the same credentials, RFC 3261 §22.4 / RFC 2617 §3.2.1).
Replay of a nonce within its lifetime is not tracked (no nonce-count state);
the lifetime is therefore kept short.
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import os
from dataclasses import dataclass
from typing import Callable

ALGORITHMS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def ha1(username: str, realm: str, password: str, algorithm: str = "MD5") -> str:
    """H(username:realm:password): what the registry stores instead of the password."""
    try:
        digest = ALGORITHMS[algorithm]
    except KeyError:
        raise ValueError(f"unsupported digest algorithm {algorithm!r} (supported: MD5, SHA-256)") from None
    return digest(f"{username}:{realm}:{password}".encode("utf-8")).hexdigest()


def expected_response(
    ha1_hex: str,
    method: str,
    uri: str,
    nonce: str,
    algorithm: str = "MD5",
    qop: str | None = None,
    nc: str = "",
    cnonce: str = "",
) -> str:
    """The ``response`` a client with the right password computes (RFC 2617 §3.2.2.1, qop=auth or none)."""
    h = ALGORITHMS[algorithm]
    ha2 = h(f"{method}:{uri}".encode("utf-8")).hexdigest()
    if qop:
        data = f"{ha1_hex}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}"
    else:
        data = f"{ha1_hex}:{nonce}:{ha2}"
    return h(data.encode("utf-8")).hexdigest()


class NonceSigner:
    """Makes and checks stateless nonces: a timestamp, a salt and an HMAC over both and the realm."""

    def __init__(self, key: bytes | None = None, lifetime: float = 30.0, salt: Callable[[], str] | None = None) -> None:
        """``salt``: where the per-nonce salt comes from (random hex by default; tests make it repeatable)."""
        self._key = key or os.urandom(32)
        self.lifetime = lifetime
        self._salt = salt or _random_salt
        self._keyed = hmac.new(self._key, digestmod=hashlib.sha256)  # copied per nonce: the key set-up is paid once

    def make(self, realm: str, now: float) -> str:
        stamp = f"{int(now):x}.{self._salt()}"
        return f"{stamp}.{self._mac(realm, stamp)}"

    def check(self, realm: str, nonce: str, now: float) -> str:
        """``"ok"``, ``"stale"`` (genuine but too old) or ``"invalid"`` (not ours, or tampered)."""
        stamp, dot, mac = nonce.rpartition(".")
        if not dot or not mac.isascii() or not hmac.compare_digest(mac, self._mac(realm, stamp)):
            return "invalid"
        try:
            issued = int(stamp.partition(".")[0], 16)
        except ValueError:
            return "invalid"
        age = now - issued
        if age > self.lifetime or age < -5:
            return "stale"
        return "ok"

    def _mac(self, realm: str, stamp: str) -> str:
        mac = self._keyed.copy()
        mac.update(f"{realm}:{stamp}".encode())
        return mac.hexdigest()[:24]


_SALTS = itertools.count(int.from_bytes(os.urandom(6), "big"))


def _random_salt() -> str:
    """Unique per nonce (a counter from a random start: the HMAC, not the salt, makes nonces unforgeable)."""
    return f"{next(_SALTS) & 0xFFFFFFFFFFFF:012x}"


def challenge(realm: str, nonce: str, algorithm: str = "MD5", stale: bool = False) -> str:
    """A ``WWW-Authenticate`` value offering qop=auth with one algorithm."""
    value = f'Digest realm="{realm}", nonce="{nonce}", algorithm={algorithm}, qop="auth"'
    return value + ", stale=true" if stale else value


@dataclass(slots=True)  # built per authenticated REGISTER: a frozen dataclass's __init__ costs several times more
class Credentials:
    """The parameters of a client's ``Authorization: Digest …`` that verification needs."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    qop: str | None = None
    nc: str = ""
    cnonce: str = ""

    @classmethod
    def from_params(cls, params: dict[str, str]) -> "Credentials":
        """Build from parsed auth params; raises ``ValueError`` naming a missing or unsupported one."""
        for name in ("username", "realm", "nonce", "uri", "response"):
            if name not in params:
                raise ValueError(f"Authorization lacks {name}")
        algorithm = params.get("algorithm", "MD5")
        canonical = {"md5": "MD5", "sha-256": "SHA-256"}.get(algorithm.lower())
        if canonical is None:
            raise ValueError(f"Authorization uses unsupported algorithm {algorithm!r}")
        qop = params.get("qop")
        if qop is not None and qop.lower() != "auth":
            raise ValueError(f"Authorization uses unsupported qop {qop!r}")
        if qop and ("nc" not in params or "cnonce" not in params):
            raise ValueError("Authorization with qop lacks nc or cnonce")
        return cls(
            params["username"], params["realm"], params["nonce"], params["uri"], params["response"].lower(),
            canonical, qop.lower() if qop else None, params.get("nc", ""), params.get("cnonce", ""),
        )

    def verify(self, ha1_hex: str, method: str) -> bool:
        """True when ``response`` proves knowledge of the password behind ``ha1_hex``."""
        want = expected_response(ha1_hex, method, self.uri, self.nonce, self.algorithm, self.qop, self.nc, self.cnonce)
        return self.response.isascii() and hmac.compare_digest(want, self.response)  # (non-ASCII: TypeError)
