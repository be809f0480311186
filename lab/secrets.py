"""The lab's own credentials: random values for the inventory's credential references.

Written as a secrets file in the scheme of ``wangnet/credentials.py``
(``{cred-id: {field: value}}``, mode 600) inside the lab's run directory, so
``WANGNET_SECRETS_FILE`` can point at it and wangnet reaches the lab exactly
as it would reach production. Nothing here is ever written into the repository.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from ruamel.yaml import YAML

from topology.schema import Inventory
from wangnet.credentials import FIELDS_BY_KIND

Secrets = dict[str, dict[str, str]]

# Fixed user names keep logs readable; the passwords and keys are what is secret.
USERNAMES = {"snmp-v3": "wangnet-noc", "ssh": "noc"}


def _value(kind: str, field: str) -> str:
    if field == "username":
        return USERNAMES[kind]
    if field == "community":
        return "lab-" + secrets.token_hex(8)
    return secrets.token_urlsafe(18)  # auth_key, priv_key, password: 24 chars, net-snmp wants >= 8


def generate(inv: Inventory) -> Secrets:
    """A fresh random value for every field of every credential the inventory references."""
    return {cred_id: {f: _value(cred.kind, f) for f in FIELDS_BY_KIND[cred.kind]}
            for cred_id, cred in sorted(inv.credentials.items())}


def write(path: Path, values: Secrets) -> None:
    """Write the secrets file readable by its owner only (the resolver refuses anything looser)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        YAML(typ="safe").dump(values, fh)


def first_of_kind(inv: Inventory, values: Secrets, kind: str) -> tuple[str, dict[str, str]] | None:
    """The first credential of a kind (e.g. the v2c community traps are sent with), if any."""
    for cred_id, cred in sorted(inv.credentials.items()):
        if cred.kind == kind and cred_id in values:
            return cred_id, values[cred_id]
    return None
