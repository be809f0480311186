"""Directory login, the pure part: configuration, escaping, group → role mapping, the decision.

The city's staff already have accounts in the directory (OpenLDAP or Active
Directory); wangnet lets them log in with those and derives their roles from
their directory groups at every login, so that adding someone to
``noc-engineers`` is the one step that gives them the NOC pages. Nothing here
opens a socket: ``wangnet/ldap_directory.py`` talks to the server and calls
these functions, so the rules can be tested without a directory.

The group → role mapping (``WANGNET_LDAP_GROUP_ROLES``) is a list of entries
separated by ``;`` or new lines, each ``GROUP: role, role``. ``GROUP`` is a
group's ``cn`` (``noc-engineers``) or its full DN
(``cn=noc-engineers,ou=groups,dc=ordos,dc=gov,dc=cn``); the roles follow the
last ``:``, since a DN may itself hold ``:``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ldap3.core.exceptions import LDAPInvalidDnError
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn, parse_dn

from wangnet.accounts import USERNAME_RE  # a name that could not be a local user cannot become one
from wangnet.config import Settings

_ENTRY_SPLIT_RE = re.compile(r"(?<!\\)[;\n]")


class DirectoryConfigError(ValueError):
    """The directory settings are unusable; the message names the setting and the bad part."""


class DirectoryUnavailable(RuntimeError):
    """The directory could not be asked (down, timed out, TLS or service bind failed); the message says which."""


@dataclass(frozen=True)
class MisconfiguredDirectory:
    """Stands in for the directory when its settings are unusable: the service runs, local logins work,
    and every directory login is refused with the settings problem in the log and the audit."""

    problem: str
    config: None = None

    def authenticate(self, username: str, password: str) -> "DirectoryUser | None":
        raise DirectoryUnavailable(f"directory login is misconfigured: {self.problem}")


@dataclass(frozen=True)
class GroupRule:
    """One mapping entry: members of ``group`` get ``roles``."""

    group: str  # normalised: a lower-case DN, or a lower-case cn
    is_dn: bool
    roles: tuple[str, ...]

    def matches(self, group: "DirectoryGroup") -> bool:
        if self.is_dn:
            return normalise_dn(group.dn) == self.group
        return group.cn.lower() == self.group


@dataclass(frozen=True)
class DirectoryGroup:
    dn: str
    cn: str


@dataclass(frozen=True)
class DirectoryUser:
    """What the directory said about a user whose bind succeeded."""

    dn: str
    username: str
    display_name: str
    email: str | None
    groups: tuple[DirectoryGroup, ...]


@dataclass(frozen=True)
class Decision:
    """Whether a directory-authenticated user may enter, with which roles, or why not."""

    allowed: bool
    roles: tuple[str, ...] = ()
    reason: str = ""  # a refusal code: "no-role" or "bad-name"
    detail: str = ""  # for the audit log (never a password)


@dataclass(frozen=True)
class DirectoryConfig:
    """Validated directory settings (``from_settings`` returns None when directory login is off)."""

    url: str
    start_tls: bool
    ca_file: Path | None
    bind_dn_template: str
    user_base: str
    user_filter: str
    service_bind_dn: str
    service_credential: str
    group_base: str
    group_filter: str
    rules: tuple[GroupRule, ...]
    timeout: float

    @property
    def uses_tls(self) -> bool:
        return self.start_tls or self.url.lower().startswith("ldaps://")

    @classmethod
    def from_settings(cls, settings: Settings, known_roles: Sequence[str]) -> "DirectoryConfig | None":
        if not settings.ldap_url.strip():
            return None
        url = settings.ldap_url.strip()
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if scheme not in ("ldap", "ldaps") or not url.split("://", 1)[1].strip("/"):
            raise DirectoryConfigError(f"WANGNET_LDAP_URL {url!r}: expected ldap://HOST[:PORT] or ldaps://HOST[:PORT]")
        if settings.ldap_start_tls and scheme == "ldaps":
            raise DirectoryConfigError("WANGNET_LDAP_START_TLS: StartTLS is for ldap:// URLs; ldaps:// is TLS already")
        if settings.ldap_timeout <= 0:
            raise DirectoryConfigError(f"WANGNET_LDAP_TIMEOUT {settings.ldap_timeout}: must be more than 0 seconds")
        template = settings.ldap_bind_dn_template.strip()
        if template:
            if "{username}" not in template:
                raise DirectoryConfigError(f"WANGNET_LDAP_BIND_DN_TEMPLATE {template!r}: has no {{username}}")
            _check_dn("WANGNET_LDAP_BIND_DN_TEMPLATE", template.replace("{username}", "x"))
        elif not settings.ldap_user_base.strip():
            raise DirectoryConfigError(
                "directory login needs WANGNET_LDAP_BIND_DN_TEMPLATE or WANGNET_LDAP_USER_BASE (to search for the user)"
            )
        else:
            _check_dn("WANGNET_LDAP_USER_BASE", settings.ldap_user_base)
            _check_filter("WANGNET_LDAP_USER_FILTER", settings.ldap_user_filter, ("{username}",))
        if settings.ldap_service_bind_dn.strip():
            _check_dn("WANGNET_LDAP_SERVICE_BIND_DN", settings.ldap_service_bind_dn)
        if not settings.ldap_group_base.strip():
            raise DirectoryConfigError("WANGNET_LDAP_GROUP_BASE is empty: roles come from groups; say where they are")
        _check_dn("WANGNET_LDAP_GROUP_BASE", settings.ldap_group_base)
        _check_filter("WANGNET_LDAP_GROUP_FILTER", settings.ldap_group_filter, ("{user_dn}", "{username}"))
        rules = parse_group_roles(settings.ldap_group_roles, known_roles)
        if not rules:
            raise DirectoryConfigError("WANGNET_LDAP_GROUP_ROLES is empty: no directory user could get a role")
        return cls(
            url=url,
            start_tls=settings.ldap_start_tls,
            ca_file=settings.ldap_ca_file,
            bind_dn_template=template,
            user_base=settings.ldap_user_base.strip(),
            user_filter=settings.ldap_user_filter.strip(),
            service_bind_dn=settings.ldap_service_bind_dn.strip(),
            service_credential=settings.ldap_service_credential.strip(),
            group_base=settings.ldap_group_base.strip(),
            group_filter=settings.ldap_group_filter.strip(),
            rules=rules,
            timeout=settings.ldap_timeout,
        )


def _check_dn(setting: str, dn: str) -> None:
    try:
        parse_dn(dn.strip())
    except LDAPInvalidDnError as exc:
        raise DirectoryConfigError(f"{setting} {dn!r}: not a valid DN ({exc})") from None


def _check_filter(setting: str, text: str, placeholders: tuple[str, ...]) -> None:
    stripped = text.strip()
    if not (stripped.startswith("(") and stripped.endswith(")")) or stripped.count("(") != stripped.count(")"):
        raise DirectoryConfigError(f"{setting} {text!r}: an LDAP filter in balanced parentheses is expected")
    if not any(p in stripped for p in placeholders):
        raise DirectoryConfigError(f"{setting} {text!r}: needs {' or '.join(placeholders)}")
    try:
        stripped.format(username="x", user_dn="x")
    except (KeyError, IndexError, ValueError) as exc:
        raise DirectoryConfigError(
            f"{setting} {text!r}: unknown placeholder {exc} (only {', '.join(placeholders)})"
        ) from None


def normalise_dn(dn: str) -> str:
    """A DN in one spelling (lower case, no spaces around separators) so two spellings compare equal."""
    parts = parse_dn(dn.strip(), escape=False, strip=True)
    return ",".join(f"{attr.strip().lower()}={value.strip().lower()}" for attr, value, _sep in parts)


def parse_group_roles(text: str, known_roles: Sequence[str]) -> tuple[GroupRule, ...]:
    """Parse ``WANGNET_LDAP_GROUP_ROLES``; a bad entry is refused with its number and text."""
    rules: list[GroupRule] = []
    seen: dict[str, int] = {}
    entries = [e.strip() for e in _ENTRY_SPLIT_RE.split(text)]
    for number, entry in enumerate((e for e in entries if e), start=1):
        where = f"WANGNET_LDAP_GROUP_ROLES entry {number} {entry!r}"
        group, colon, role_text = entry.rpartition(":")
        group = group.strip()
        if not colon or not group:
            raise DirectoryConfigError(f"{where}: expected 'GROUP: role[, role…]'")
        roles = [r.strip() for r in re.split(r"[,\s]+", role_text) if r.strip()]
        if not roles:
            raise DirectoryConfigError(f"{where}: names no role (known: {', '.join(known_roles)})")
        unknown = [r for r in roles if r not in known_roles]
        if unknown:
            raise DirectoryConfigError(f"{where}: unknown role {unknown[0]!r} (known: {', '.join(known_roles)})")
        is_dn = "=" in group
        if is_dn:
            try:
                key = normalise_dn(group)
            except LDAPInvalidDnError as exc:
                raise DirectoryConfigError(f"{where}: {group!r} is not a valid DN ({exc})") from None
        else:
            key = group.lower()
        if key in seen:
            raise DirectoryConfigError(f"{where}: group {group!r} is already mapped by entry {seen[key]}")
        seen[key] = number
        rules.append(GroupRule(group=key, is_dn=is_dn, roles=tuple(sorted(set(roles)))))
    return tuple(rules)


def user_filter(template: str, username: str) -> str:
    """The user search filter with the typed name escaped, so ``*`` or ``)(`` cannot widen it."""
    return template.format(username=escape_filter_chars(username))


def bind_dn(template: str, username: str) -> str:
    """The user's DN from the template, the name escaped as an RDN value (``,``, ``+``, ``=`` …)."""
    return template.format(username=escape_rdn(username))


def group_filter(template: str, user_dn: str, username: str) -> str:
    return template.format(user_dn=escape_filter_chars(user_dn), username=escape_filter_chars(username))


def roles_for_groups(groups: Iterable[DirectoryGroup], rules: Sequence[GroupRule]) -> tuple[str, ...]:
    """The union of the roles of every rule a group matches, sorted."""
    found: set[str] = set()
    for group in groups:
        for rule in rules:
            if rule.matches(group):
                found.update(rule.roles)
    return tuple(sorted(found))


def decide(user: DirectoryUser, rules: Sequence[GroupRule]) -> Decision:
    """Let a bound directory user in with the mapped roles, or say why not."""
    names = ", ".join(sorted(g.cn or g.dn for g in user.groups)) or "none"
    if not USERNAME_RE.match(user.username):
        return Decision(False, reason="bad-name", detail=f"directory name {user.username!r} is not a valid user name")
    roles = roles_for_groups(user.groups, rules)
    if not roles:
        return Decision(False, reason="no-role", detail=f"directory groups: {names}; none is mapped to a role")
    return Decision(True, roles=roles, detail=f"directory groups: {names} → roles: {', '.join(roles)}")
