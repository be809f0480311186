"""The location service: who is reachable where (in memory), and what the store must learn (write-behind).

The registrar reads and writes only this table; a background task of the
service flushes the extensions marked dirty to the store, so the database is
never on the REGISTER path, and ``load`` rebuilds the table at start so that
bindings survive a restart.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class BindingRecord:
    """One contact of one phone; times are epoch seconds."""

    contact: str  # the contact URI, e.g. sip:1001@127.0.0.1:5062;transport=udp
    expires_at: float
    call_id: str
    cseq: int
    user_agent: str
    source: str  # "udp:127.0.0.1:5062": where the REGISTER came from, hence where requests go
    registered_at: float
    updated_at: float

    def source_address(self) -> tuple[str, str, int]:
        """(transport, host, port) of ``source``."""
        transport, _, hostport = self.source.partition(":")
        host, _, port = hostport.rpartition(":")
        return transport, host.strip("[]"), int(port)


@dataclass
class PhoneActivity:
    """Per-phone facts for the registry's dashboard, accumulated between flushes."""

    last_registered_at: float | None = None
    last_user_agent: str | None = None
    new_failures: int = 0
    last_failure_at: float | None = None


@dataclass
class LocationTable:
    bindings: dict[str, dict[str, BindingRecord]] = field(default_factory=dict)
    activity: dict[str, PhoneActivity] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)

    def current(self, extension: str, now: float) -> list[BindingRecord]:
        """Unexpired bindings of ``extension``, most recently updated first."""
        records = self.bindings.get(extension)
        if not records:
            return []
        live = [r for r in records.values() if r.expires_at > now]
        if len(live) != len(records):
            self.bindings[extension] = {r.contact: r for r in live}
            self.dirty.add(extension)
        live.sort(key=lambda r: r.updated_at, reverse=True)
        return live

    def get(self, extension: str, contact: str) -> BindingRecord | None:
        return self.bindings.get(extension, {}).get(contact)

    def put(self, extension: str, record: BindingRecord) -> None:
        self.bindings.setdefault(extension, {})[record.contact] = record
        self.dirty.add(extension)

    def remove(self, extension: str, contact: str) -> None:
        records = self.bindings.get(extension)
        if records and records.pop(contact, None) is not None:
            self.dirty.add(extension)

    def clear(self, extension: str) -> None:
        if self.bindings.pop(extension, None):
            self.dirty.add(extension)

    def registered(self, extension: str, now: float, user_agent: str) -> None:
        act = self.activity.setdefault(extension, PhoneActivity())
        act.last_registered_at = now
        act.last_user_agent = user_agent
        self.dirty.add(extension)

    def failed(self, extension: str, now: float) -> None:
        act = self.activity.setdefault(extension, PhoneActivity())
        act.new_failures += 1
        act.last_failure_at = now
        self.dirty.add(extension)

    def expire(self, now: float) -> int:
        """Remove expired bindings everywhere; returns how many went."""
        removed = 0
        for extension, records in list(self.bindings.items()):
            stale = [c for c, r in records.items() if r.expires_at <= now]
            for contact in stale:
                del records[contact]
            if stale:
                removed += len(stale)
                self.dirty.add(extension)
            if not records:
                del self.bindings[extension]
        return removed

    def count(self) -> int:
        return sum(len(r) for r in self.bindings.values())

    def take_dirty(self) -> tuple[dict[str, list[BindingRecord]], dict[str, PhoneActivity]]:
        """Snapshot of what changed since the last call (bindings per dirty extension, activity)."""
        dirty, self.dirty = self.dirty, set()
        snapshot = {ext: list(self.bindings.get(ext, {}).values()) for ext in dirty}
        activity, self.activity = self.activity, {}
        return snapshot, activity
