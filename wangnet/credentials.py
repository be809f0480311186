"""Resolve the inventory's credential references to secret values at run time.

The inventory names credentials (``snmp: snmp-v3-noc``) but never holds their
values. A value comes from the environment variable
``WANGNET_CRED_<ID>_<FIELD>`` (id upper-cased, ``-`` → ``_``) or, failing that,
from the secrets file (YAML ``{id: {field: value}}``) named by
``WANGNET_SECRETS_FILE``. Values are wrapped in ``Secret`` so that an accidental
log line or template prints ``'***'`` instead of the password.
"""
from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ruamel.yaml import YAML, YAMLError

from wangnet.config import PROJECT_ROOT, Settings

# Fields each credential kind needs; the inventory declares only the kind.
FIELDS_BY_KIND: dict[str, tuple[str, ...]] = {
    "snmp-v2c": ("community",),
    "snmp-v3": ("username", "auth_key", "priv_key"),
    "ssh": ("username", "password"),
}


class CredentialError(LookupError):
    """A credential could not be resolved; the message names the reference and where it was looked for."""


@dataclass(frozen=True)
class Secret:
    """A secret string that does not show itself in repr/str."""

    value: str

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def reveal(self) -> str:
        return self.value


def env_name(cred_id: str, field: str) -> str:
    return f"WANGNET_CRED_{cred_id.upper().replace('-', '_')}_{field.upper()}"


def load_secrets_file(path: Path) -> dict[str, dict[str, str]]:
    """Read the secrets file, refusing one kept inside the repository's tracked tree."""
    resolved = path.resolve()
    inside_repo = resolved.is_relative_to(PROJECT_ROOT) and not resolved.is_relative_to(PROJECT_ROOT / "var")
    if inside_repo:
        raise CredentialError(f"{path}: secrets file must live outside the repository (or under var/)")
    try:
        mode = resolved.stat().st_mode
        text = resolved.read_text(encoding="utf-8")
    except OSError as exc:
        raise CredentialError(f"{path}: cannot read secrets file: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialError(f"{path}: secrets file is readable by group or others; chmod 600 it")
    try:
        data = YAML(typ="safe").load(text) or {}
    except YAMLError as exc:
        raise CredentialError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise CredentialError(f"{path}: expected a mapping of credential id to a mapping of fields")
    return {str(k): {str(f): str(v) for f, v in fields.items()} for k, fields in data.items()}


class CredentialResolver:
    """Looks credentials up in the environment first, then in the secrets file."""

    def __init__(self, environ: Mapping[str, str], secrets_file: Path | None = None) -> None:
        self._env = environ
        self._file = secrets_file
        self._file_data: dict[str, dict[str, str]] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "CredentialResolver":
        return cls(settings.extra_env, settings.secrets_file)

    def _from_file(self) -> dict[str, dict[str, str]]:
        if self._file is None:
            return {}
        if self._file_data is None:
            self._file_data = load_secrets_file(self._file)
        return self._file_data

    def field(self, cred_id: str, field: str) -> Secret:
        name = env_name(cred_id, field)
        if name in self._env:
            return Secret(self._env[name])
        value = self._from_file().get(cred_id, {}).get(field)
        if value is None:
            where = f"${name}" + (f" or {self._file} [{cred_id}.{field}]" if self._file else " (no secrets file set)")
            raise CredentialError(f"credential {cred_id!r} has no {field!r}: looked in {where}")
        return Secret(value)

    def resolve(self, cred_id: str, kind: str) -> dict[str, Secret]:
        """All fields a credential of ``kind`` needs, or a CredentialError naming the first missing one."""
        try:
            fields = FIELDS_BY_KIND[kind]
        except KeyError:
            raise CredentialError(f"credential {cred_id!r}: unknown kind {kind!r}") from None
        return {f: self.field(cred_id, f) for f in fields}
