"""Store I/O of the SIP engine: load credentials and bindings at start, write changed bindings behind.

Synchronous SQLAlchemy code, run by the service in a worker thread so the
event loop never waits for the database.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import delete, select

from telephony.directory import PhoneCredentials
from telephony.location import BindingRecord, PhoneActivity
from telephony.models import Binding, Phone
from wangnet.store import Store


def _epoch(value: datetime) -> float:
    if value.tzinfo is None:  # SQLite hands naive datetimes back
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


def load_credentials(store: Store) -> dict[str, PhoneCredentials]:
    with store.session() as session:
        rows = session.execute(
            select(Phone.id, Phone.extension, Phone.site_id, Phone.realm, Phone.ha1_md5, Phone.ha1_sha256, Phone.enabled)
        ).all()
    return {row.extension: PhoneCredentials(*row) for row in rows}


def load_bindings(store: Store, now: float) -> dict[str, dict[str, BindingRecord]]:
    """Unexpired bindings per extension, as the last process left them."""
    out: dict[str, dict[str, BindingRecord]] = {}
    with store.session() as session:
        rows = session.execute(select(Phone.extension, Binding).join(Binding, Binding.phone_id == Phone.id)).all()
        for extension, b in rows:
            expires = _epoch(b.expires_at)
            if expires <= now:
                continue
            out.setdefault(extension, {})[b.contact] = BindingRecord(
                b.contact, expires, b.call_id, b.cseq, b.user_agent, b.source,
                _epoch(b.registered_at), _epoch(b.updated_at),
            )
    return out


def flush(
    store: Store,
    credentials: dict[str, PhoneCredentials],
    bindings: dict[str, list[BindingRecord]],
    activity: dict[str, PhoneActivity],
) -> None:
    """Make the store's bindings of each changed extension equal to the in-memory ones; record activity."""
    if not bindings and not activity:
        return
    with store.session() as session:
        for extension, records in bindings.items():
            phone = credentials.get(extension)
            if phone is None:
                continue
            session.execute(delete(Binding).where(Binding.phone_id == phone.phone_id))
            for r in records:
                session.add(Binding(
                    phone_id=phone.phone_id, contact=r.contact[:512], expires_at=_dt(r.expires_at),
                    call_id=r.call_id[:256], cseq=r.cseq, user_agent=r.user_agent[:256], source=r.source[:80],
                    registered_at=_dt(r.registered_at), updated_at=_dt(r.updated_at),
                ))
        for extension, act in activity.items():
            phone_creds = credentials.get(extension)
            if phone_creds is None:
                continue
            phone = session.get(Phone, phone_creds.phone_id)
            if phone is None:
                continue
            if act.last_registered_at is not None:
                phone.last_registered_at = _dt(act.last_registered_at)
                phone.last_user_agent = (act.last_user_agent or "")[:256]
            if act.new_failures:
                phone.failed_attempts = (phone.failed_attempts or 0) + act.new_failures
                phone.last_failure_at = _dt(act.last_failure_at or 0)
