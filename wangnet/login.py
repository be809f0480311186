"""One login for every section: local accounts and directory accounts through the same door.

A local account (``source == "local"``) is checked against its argon2 hash
and nothing else, so a directory outage or a directory entry of the same name
can never lock out or take over the local admin. Any other name goes to the
directory (when one is configured): the directory checks the password by a
bind, and the user's local row is created or refreshed with the roles its
groups map to. Every outcome is written to the audit log, never the password.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from wangnet import accounts
from wangnet.directory import DirectoryConfig, DirectoryUnavailable, DirectoryUser, decide

log = logging.getLogger(__name__)


class Directory(Protocol):
    """What the login needs of a directory (``wangnet.ldap_directory.LdapDirectory``)."""

    config: DirectoryConfig | None  # None only for a stand-in that refuses every login

    def authenticate(self, username: str, password: str) -> DirectoryUser | None:
        """The user if the password binds, None if not; raises DirectoryUnavailable when it cannot tell."""


@dataclass(frozen=True)
class LoginResult:
    """The user on success; otherwise a refusal code the login page turns into a message."""

    user: accounts.User | None
    refusal: str = ""  # "wrong", "disabled", "no-role", "bad-name", "local-name", "directory-down"
    detail: str = ""


def log_in(
    session: Session,
    username: str,
    password: str,
    directory: Directory | None,
    remote_addr: str = "",
) -> LoginResult:
    """Authenticate locally or against the directory, record the outcome, refresh directory users."""
    result = _attempt(session, username, password, directory)
    actor = result.user.username if result.user is not None else username
    if result.user is not None:
        accounts.audit(session, actor, "login", detail=result.detail, remote_addr=remote_addr)
    else:
        accounts.audit(
            session, actor, "login.failed", detail=f"{result.refusal}: {result.detail}".rstrip(": "),
            remote_addr=remote_addr,
        )
        log.warning("failed login for %r from %s (%s)", username, remote_addr, result.refusal)
    return result


def _attempt(session: Session, username: str, password: str, directory: Directory | None) -> LoginResult:
    existing = accounts.find_user(session, username)
    if directory is None or (existing is not None and existing.source != accounts.SOURCE_DIRECTORY):
        user = accounts.authenticate(session, username, password)
        if user is None:
            return LoginResult(None, "wrong", "local account")
        return LoginResult(user, detail="local account")
    try:
        found = directory.authenticate(username, password)
    except DirectoryUnavailable as exc:
        log.error("directory login of %r impossible: %s", username, exc)
        return LoginResult(None, "directory-down", str(exc))
    if found is None:
        return LoginResult(None, "wrong", "directory bind refused")
    assert directory.config is not None
    decision = decide(found, directory.config.rules)
    row = accounts.find_user(session, found.username)
    if row is not None and row.source != accounts.SOURCE_DIRECTORY:
        return LoginResult(None, "local-name", f"directory entry {found.dn} has the name of a local account")
    if not decision.allowed:
        if row is not None and decision.reason == "no-role":
            row.role_rows = []  # the directory took the groups away: the old roles go too
        return LoginResult(None, decision.reason, f"{found.dn}: {decision.detail}")
    if row is not None and not row.active:
        return LoginResult(None, "disabled", f"{found.dn}: disabled in wangnet")
    user = accounts.upsert_directory_user(session, found.username, found.display_name, found.email, decision.roles)
    return LoginResult(user, detail=f"{found.dn}: {decision.detail}")
