"""The phone registry: phones, their SIP credentials, and who changed what.

A phone's SIP user name is its extension; the registry stores only the digest
HA1s (MD5 and SHA-256) of a random password. The password is returned once,
by ``create_phone`` and ``reset_password``, and exists nowhere afterwards —
not in the database, not in the audit log. Every change is audit-logged.

Extension and site are fixed for a phone's life: the extension is the digest
user name (changing it would invalidate the HA1s) and tells which site the
phone sits in. Moving a phone is delete + create, which issues new credentials.

Callers (web, CLI) pass a ``Context`` naming the inventory's plan, the SIP
realm and the actor; functions raise ``RegistryError`` with a message meant
for the person who typed the input.
"""
from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from telephony.digest import ha1
from telephony.models import Phone
from telephony.plan import ExtensionPlan, PlanError, build_plan
from wangnet.accounts import audit

PASSWORD_LENGTH = 20
# No 0/O, 1/l/I: the password is typed into a phone's keypad or web page once.
PASSWORD_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")
MAC_RE = re.compile(r"^[0-9a-f]{12}$")
TEXT_LIMITS = {"display_name": 128, "department": 128, "model": 128, "owner": 128}
EDITABLE = ("display_name", "department", "mac", "model", "owner")
FORMULA_START = ("=", "+", "@")  # a cell starting with these runs as a formula when the export is opened


class RegistryError(ValueError):
    """A registry operation was refused; the message says why."""


class PhoneNotFound(RegistryError):
    pass


@dataclass(frozen=True)
class Context:
    """Who acts, and against which network model and SIP realm."""

    plan: ExtensionPlan
    site_names: Mapping[str, str]  # site id -> name, for messages and listings
    departments: Mapping[str, tuple[str, ...]]
    realm: str
    actor: str
    remote_addr: str = ""

    @classmethod
    def from_inventory(cls, inventory, realm: str, actor: str, remote_addr: str = "") -> "Context":  # type: ignore[no-untyped-def]
        return cls(
            plan=build_plan(inventory),
            site_names={s.id: s.name for s in inventory.sites},
            departments={s.id: tuple(s.departments) for s in inventory.sites},
            realm=realm,
            actor=actor,
            remote_addr=remote_addr,
        )


@dataclass
class PhoneFields:
    """What a person supplies for a phone; ``extension`` empty means "next free in the site"."""

    site_id: str
    extension: str = ""
    display_name: str = ""
    department: str = ""
    mac: str = ""
    model: str = ""
    owner: str = ""
    enabled: bool = True


def generate_password() -> str:
    """A random SIP password (~117 bits), never stored."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def normalise_mac(text: str) -> str | None:
    """``AA-BB-CC-DD-EE-FF``, ``aabb.ccdd.eeff`` … → ``aa:bb:cc:dd:ee:ff``; empty → None."""
    raw = (text or "").strip().lower()
    if not raw:
        return None
    digits = re.sub(r"[:\-.\s]", "", raw)
    if not MAC_RE.match(digits):
        raise RegistryError(f"MAC address {text.strip()!r} is not 12 hexadecimal digits (e.g. 00:1a:2b:3c:4d:5e)")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def _check_text(name: str, value: str) -> str:
    value = (value or "").strip()
    limit = TEXT_LIMITS[name]
    if len(value) > limit:
        raise RegistryError(f"{name} is longer than {limit} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise RegistryError(f"{name} contains control characters")
    if value.startswith(FORMULA_START):
        raise RegistryError(f"{name} must not start with {value[0]!r} (it would run as a spreadsheet formula)")
    return value


def check_fields(ctx: Context, fields: PhoneFields, used_extensions: set[str], used_macs: set[str]) -> PhoneFields:
    """Validate and normalise one phone's fields against the plan and what is already taken.

    ``used_*`` are the extensions and MACs already taken (the database plus
    earlier rows of the same import); the returned fields have the extension
    filled in when it was left empty.
    """
    site_id = (fields.site_id or "").strip()
    if not site_id:
        raise RegistryError("site is required")
    if site_id not in ctx.plan.sites:
        raise RegistryError(f'unknown site "{site_id}"')
    extension = (fields.extension or "").strip()
    try:
        if extension:
            ctx.plan.validate(extension, site_id)
        else:
            extension = ctx.plan.next_free(site_id, used_extensions)
    except PlanError as exc:
        raise RegistryError(str(exc)) from None
    if extension in used_extensions:
        raise RegistryError(f"extension {extension} is already taken")
    texts = {name: _check_text(name, getattr(fields, name)) for name in TEXT_LIMITS}
    known = ctx.departments.get(site_id, ())
    if texts["department"] and known and texts["department"] not in known:
        raise RegistryError(
            f'department "{texts["department"]}" is not one of site "{site_id}"\'s departments ({", ".join(known)})'
        )
    mac = normalise_mac(fields.mac)
    if mac is not None and mac in used_macs:
        raise RegistryError(f"MAC address {mac} is already used by another phone")
    return PhoneFields(site_id=site_id, extension=extension, mac=mac or "", enabled=fields.enabled, **texts)


def used_extensions(session: Session) -> set[str]:
    return set(session.scalars(select(Phone.extension)))


def used_macs(session: Session, except_id: int | None = None) -> set[str]:
    stmt = select(Phone.mac).where(Phone.mac.is_not(None))
    if except_id is not None:
        stmt = stmt.where(Phone.id != except_id)
    return set(session.scalars(stmt))


def get_phone(session: Session, extension: str) -> Phone:
    phone = session.scalar(select(Phone).where(Phone.extension == extension))
    if phone is None:
        raise PhoneNotFound(f"no phone with extension {extension}")
    return phone


def _set_credentials(phone: Phone, realm: str, password: str) -> None:
    phone.realm = realm
    phone.ha1_md5 = ha1(phone.extension, realm, password, "MD5")
    phone.ha1_sha256 = ha1(phone.extension, realm, password, "SHA-256")


def add_checked(session: Session, ctx: Context, checked: PhoneFields) -> tuple[Phone, str]:
    """Insert already-checked fields with fresh credentials; returns the phone and its one-time password."""
    password = generate_password()
    phone = Phone(
        extension=checked.extension,
        display_name=checked.display_name,
        site_id=checked.site_id,
        department=checked.department,
        mac=checked.mac or None,
        model=checked.model,
        owner=checked.owner,
        enabled=checked.enabled,
    )
    _set_credentials(phone, ctx.realm, password)
    session.add(phone)
    return phone, password


def flush_or_refuse(session: Session) -> None:
    """Insert now; a concurrent insert that took the same extension or MAC becomes a clean refusal."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise RegistryError("another change took the same extension or MAC address meanwhile; try again") from exc


def create_phone(session: Session, ctx: Context, fields: PhoneFields) -> tuple[Phone, str]:
    """Create a phone; the returned password is shown once and never stored."""
    checked = check_fields(ctx, fields, used_extensions(session), used_macs(session))
    phone, password = add_checked(session, ctx, checked)
    flush_or_refuse(session)
    audit(
        session, ctx.actor, "phone.create", phone.extension,
        f"site={phone.site_id} mac={phone.mac or '-'} model={phone.model or '-'}", ctx.remote_addr,
    )
    return phone, password


def update_phone(session: Session, ctx: Context, extension: str, changes: Mapping[str, str]) -> Phone:
    """Change the descriptive fields of a phone (not its extension, site or credentials)."""
    phone = get_phone(session, extension)
    refused = sorted(set(changes) - set(EDITABLE))
    if refused:
        raise RegistryError(
            f"cannot change {', '.join(refused)}: only {', '.join(EDITABLE)} can be edited "
            "(to move a phone to another site or extension, delete it and create it again)"
        )
    current = PhoneFields(
        site_id=phone.site_id, extension=phone.extension, display_name=phone.display_name,
        department=phone.department, mac=phone.mac or "", model=phone.model, owner=phone.owner,
    )
    for name, value in changes.items():
        setattr(current, name, "" if value is None else str(value))
    others = used_extensions(session) - {phone.extension}
    checked = check_fields(ctx, current, others, used_macs(session, except_id=phone.id))
    diff = []
    for name in EDITABLE:
        new = getattr(checked, name) if name != "mac" else (checked.mac or None)
        if getattr(phone, name) != new:
            diff.append(f"{name}={new or '-'}")
            setattr(phone, name, new)
    session.flush()
    if diff:
        audit(session, ctx.actor, "phone.update", phone.extension, " ".join(diff), ctx.remote_addr)
    return phone


def set_enabled(session: Session, ctx: Context, extension: str, enabled: bool) -> Phone:
    """A disabled phone keeps its record but the registrar refuses it."""
    phone = get_phone(session, extension)
    if phone.enabled != enabled:
        phone.enabled = enabled
        session.flush()
        audit(session, ctx.actor, "phone.enable" if enabled else "phone.disable", phone.extension, "", ctx.remote_addr)
    return phone


def reset_password(session: Session, ctx: Context, extension: str) -> str:
    """New credentials for a phone (the old password stops working); the new one is returned once."""
    phone = get_phone(session, extension)
    password = generate_password()
    _set_credentials(phone, ctx.realm, password)
    phone.failed_attempts = 0
    session.flush()
    audit(session, ctx.actor, "phone.password_reset", phone.extension, f"realm={ctx.realm}", ctx.remote_addr)
    return password


def delete_phone(session: Session, ctx: Context, extension: str) -> None:
    phone = get_phone(session, extension)
    detail = f"site={phone.site_id} mac={phone.mac or '-'} bindings={len(phone.bindings)}"
    session.delete(phone)
    session.flush()
    audit(session, ctx.actor, "phone.delete", extension, detail, ctx.remote_addr)
