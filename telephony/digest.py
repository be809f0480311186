"""SIP digest authentication (RFC 3261 §22, RFC 8760 SHA-256), pure functions."""
from __future__ import annotations

import hashlib

ALGORITHMS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def ha1(username: str, realm: str, password: str, algorithm: str = "MD5") -> str:
    """H(username:realm:password): what the registry stores instead of the password."""
    try:
        digest = ALGORITHMS[algorithm]
    except KeyError:
        raise ValueError(f"unsupported digest algorithm {algorithm!r} (supported: MD5, SHA-256)") from None
    return digest(f"{username}:{realm}:{password}".encode("utf-8")).hexdigest()
