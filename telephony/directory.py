"""The registrar's in-memory copy of the phone registry's credentials (HA1s), keyed by extension.

Looking HA1s up in the database per REGISTER would put the store on the hot
path; the service refreshes this copy from the store in the background.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PhoneCredentials:
    phone_id: int
    extension: str
    site_id: str
    realm: str
    ha1_md5: str
    ha1_sha256: str
    enabled: bool = True

    def ha1(self, algorithm: str) -> str:
        return self.ha1_sha256 if algorithm == "SHA-256" else self.ha1_md5


class Directory:
    """extension → credentials; replaced wholesale on refresh (a dict swap is atomic for readers)."""

    def __init__(self, phones: dict[str, PhoneCredentials] | None = None) -> None:
        self.phones: dict[str, PhoneCredentials] = dict(phones or {})

    def get(self, extension: str) -> PhoneCredentials | None:
        return self.phones.get(extension)

    def replace(self, phones: dict[str, PhoneCredentials]) -> None:
        self.phones = phones

    def __len__(self) -> int:
        return len(self.phones)
