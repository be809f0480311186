"""Users, roles and the audit log — shared by the web app, the CLI and later every area.

Kept out of ``web/`` so that the CLI and the asyncio services can create users
and write audit entries without importing Flask.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Iterable, Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from wangnet.store import Base

ROLES: tuple[str, ...] = ("admin", "noc", "host", "staff", "phone-admin", "site")
ROLE_DESCRIPTIONS = {
    "admin": "manages users and publishes content",
    "noc": "network engineer: map, devices, alerts, show commands",
    "host": "meeting host: starts and runs conferences",
    "staff": "watches news on demand",
    "phone-admin": "runs the IP-phone trial",
    "site": "a site's conference terminal: joins conferences only as its own site (users.site_id)",
}
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
MIN_PASSWORD_LENGTH = 10
SOURCE_LOCAL, SOURCE_DIRECTORY = "local", "directory"

_hasher = PasswordHasher()
# Verifying against a real hash when the user does not exist keeps the time of
# a failed login the same for known and unknown names.
_DUMMY_HASH = _hasher.hash("wangnet-dummy-password")


class AccountError(ValueError):
    """A user operation was refused; the message says why."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(128), default="", nullable=False)
    email: Mapped[str | None] = mapped_column(String(256), nullable=True)  # alert e-mail
    mobile: Mapped[str | None] = mapped_column(String(32), nullable=True)  # alert SMS
    password_hash: Mapped[str] = mapped_column(String(256), nullable=False)
    active: Mapped[bool] = mapped_column(default=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # "local": password checked here; "directory": checked by an LDAP bind, no local password (wangnet/login.py)
    source: Mapped[str] = mapped_column(String(16), default="local", server_default="local", nullable=False)
    site_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # a "site" account's inventory site
    role_rows: Mapped[list["UserRole"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(r.role for r in self.role_rows)

    def has_any_role(self, roles: Iterable[str]) -> bool:
        return bool(self.roles.intersection(roles))


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    user: Mapped[User] = relationship(back_populates="role_rows")


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False, index=True)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    target: Mapped[str] = mapped_column(String(256), default="", nullable=False)
    detail: Mapped[str] = mapped_column(Text, default="", nullable=False)
    remote_addr: Mapped[str] = mapped_column(String(64), default="", nullable=False)


def validate_roles(roles: Iterable[str]) -> list[str]:
    """Return the roles sorted, or refuse an unknown or empty set."""
    wanted = sorted(set(roles))
    if not wanted:
        raise AccountError(f"at least one role is needed (one of: {', '.join(ROLES)})")
    unknown = [r for r in wanted if r not in ROLES]
    if unknown:
        raise AccountError(f"unknown role {unknown[0]!r} (known: {', '.join(ROLES)})")
    return wanted


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def create_user(
    session: Session, username: str, password: str, roles: Sequence[str], display_name: str = ""
) -> User:
    """Create a user with an argon2 password hash; refuses duplicates and bad input."""
    if not USERNAME_RE.match(username):
        raise AccountError(
            f"invalid user name {username!r}: 2–64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    role_list = validate_roles(roles)
    validate_password(password)
    if find_user(session, username) is not None:
        raise AccountError(f"user {username!r} already exists")
    user = User(username=username, display_name=display_name or username, password_hash=_hasher.hash(password))
    user.role_rows = [UserRole(role=r) for r in role_list]
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    if user.source == SOURCE_DIRECTORY:
        raise AccountError(f"user {user.username!r} logs in through the directory; change the password there")
    validate_password(password)
    user.password_hash = _hasher.hash(password)
    session.flush()


def set_roles(session: Session, user: User, roles: Sequence[str]) -> None:
    role_list = validate_roles(roles)
    user.role_rows = [UserRole(role=r) for r in role_list]
    session.flush()


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user whose password matches, else None (same cost either way)."""
    user = find_user(session, username)
    candidate_hash = user.password_hash if user is not None else _DUMMY_HASH
    try:
        _hasher.verify(candidate_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    return user


def upsert_directory_user(
    session: Session, username: str, display_name: str, email: str | None, roles: Sequence[str]
) -> User:
    """Create or refresh the local row of a user the directory just authenticated; roles are replaced.

    The row has no usable password (an empty hash never verifies), so the
    user can only ever enter through the directory.
    """
    user = find_user(session, username)
    if user is None:
        user = User(username=username, password_hash="", source=SOURCE_DIRECTORY)
        session.add(user)
    elif user.source != SOURCE_DIRECTORY:
        raise AccountError(f"user {username!r} is a local account; the directory cannot log in as it")
    user.display_name = display_name or username
    if email:
        user.email = email
    user.role_rows = [UserRole(role=r) for r in validate_roles(roles)]
    user.last_login_at = utcnow()
    session.flush()
    return user


def audit(
    session: Session, actor: str, action: str, target: str = "", detail: str = "", remote_addr: str = ""
) -> AuditEntry:
    """Record who did what; every control action in every area goes through here.

    Refused input is audited as typed, so it is made storable on every engine: PostgreSQL rejects NUL
    characters in text and values longer than a VARCHAR (SQLite accepts both), and an audit write must
    never turn a refusal into a server error.
    """
    entry = AuditEntry(actor=_storable(actor, 64), action=_storable(action, 64), target=_storable(target, 256),
                       detail=_storable(detail), remote_addr=_storable(remote_addr or "", 64))
    session.add(entry)
    session.flush()
    return entry


def _storable(value: str, length: int | None = None) -> str:
    """``value`` with NUL shown as ``\\x00`` and cut to ``length`` characters."""
    value = value.replace("\x00", "\\x00")
    return value[:length] if length is not None else value


def recent_audit(session: Session, limit: int = 100, offset: int = 0) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt))
