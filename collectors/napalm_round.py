"""The slower NAPALM round: facts, LLDP drift and configuration backups for every device.

Runs the synchronous getters in a thread pool (NAPALM is not asyncio), then
records in one transaction: facts, a new configuration version only when the
meaningful text changed (with its diff), the SSH host key on first use, and the
drift report of planned links versus LLDP.
"""
from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import delete, func, select

from collectors.configs import backup, changed, diff
from collectors.drift import DriftReport, compare
from collectors.getters import Snapshot, SshLogin, snapshot
from collectors.models import ConfigVersion, DeviceFacts, DriftFinding
from topology.schema import Device, Inventory
from wangnet.accounts import utcnow
from wangnet.credentials import CredentialError, CredentialResolver
from wangnet.store import Store

log = logging.getLogger(__name__)
SshEndpointFn = Callable[[Device], tuple[str, int]]


@dataclass(frozen=True)
class RoundReport:
    snapshots: dict[str, Snapshot]
    errors: dict[str, str]  # devices not even attempted (no credential)
    new_config_versions: tuple[str, ...]
    drift: DriftReport


def ssh_logins(
    inventory: Inventory,
    endpoint: SshEndpointFn,
    credentials: CredentialResolver,
    pinned: dict[str, dict[str, str]],
    timeout: int = 30,
) -> tuple[dict[str, SshLogin], dict[str, str]]:
    logins: dict[str, SshLogin] = {}
    errors: dict[str, str] = {}
    for device in inventory.devices:
        try:
            secrets = credentials.resolve(device.ssh, "ssh")
        except CredentialError as exc:
            errors[device.id] = f"{device.id}: {exc}"
            continue
        host, port = endpoint(device)
        logins[device.id] = SshLogin(
            host, port, secrets["username"].reveal(), secrets["password"].reveal(), timeout, None, pinned.get(device.id)
        )
    return logins, errors


class NapalmCollector:
    def __init__(
        self,
        inventory: Inventory,
        store: Store,
        logins: Callable[[dict[str, dict[str, str]]], tuple[dict[str, SshLogin], dict[str, str]]],
        workers: int = 8,
        platform_override: str | None = None,
        owns_finding: Callable[[str | None, str], bool] | None = None,
    ) -> None:
        self.inventory = inventory
        self.store = store
        self.logins = logins
        self.workers = workers
        # (link, detail) → whether this process judges that drift finding (one banner's collector: ``collectors.scope``)
        self.owns_finding = owns_finding
        # the lab emulates every router with Linux: its devices speak napalm-linux whatever the inventory says
        self.platform = {d.id: platform_override or d.platform for d in inventory.devices}

    def pinned_keys(self) -> dict[str, dict[str, str]]:
        with self.store.session() as s:
            return {
                f.device: {"key_type": f.host_key_type, "key": f.host_key}
                for f in s.scalars(select(DeviceFacts).where(DeviceFacts.host_key.is_not(None)))
            }

    def run_round(self, devices: set[str] | None = None) -> RoundReport:
        logins, errors = self.logins(self.pinned_keys())
        wanted = {d: login for d, login in logins.items() if devices is None or d in devices}
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="napalm") as pool:
            futures = {d: pool.submit(snapshot, d, self.platform[d], login) for d, login in wanted.items()}
            snapshots = {d: f.result() for d, f in futures.items()}
        lldp = {d: s.lldp for d, s in snapshots.items() if s.lldp_ok}
        report = compare(self.inventory, lldp)
        new_versions = self._record(snapshots, report)
        return RoundReport(snapshots, errors, tuple(new_versions), report)

    async def round(self, devices: set[str] | None = None) -> RoundReport:
        return await asyncio.to_thread(self.run_round, devices)

    def _record(self, snapshots: dict[str, Snapshot], report: DriftReport) -> list[str]:
        now = utcnow()
        new_versions: list[str] = []
        with self.store.session() as s:
            for device, snap in snapshots.items():
                facts = s.get(DeviceFacts, device) or DeviceFacts(device=device)
                if snap.facts:
                    facts.vendor = str(snap.facts.get("vendor", ""))
                    facts.model = str(snap.facts.get("model", ""))
                    facts.os_version = str(snap.facts.get("os_version", ""))
                    facts.serial_number = str(snap.facts.get("serial_number", ""))
                    facts.hostname = str(snap.facts.get("hostname", ""))
                    uptime = snap.facts.get("uptime")
                    facts.uptime_seconds = float(uptime) if isinstance(uptime, (int, float)) and uptime >= 0 else None
                if snap.interfaces:
                    facts.interfaces = json.dumps(snap.interfaces, default=str, sort_keys=True)
                facts.errors = json.dumps(snap.errors, sort_keys=True)
                if snap.host_key and not facts.host_key:
                    facts.host_key_type, facts.host_key = snap.host_key["key_type"], snap.host_key["key"]
                facts.updated_at = now
                s.add(facts)
                if snap.config is not None:
                    if self._store_config(s, device, snap.config, now):
                        new_versions.append(device)
            if self.owns_finding is None:
                s.execute(delete(DriftFinding))
            else:  # other banners' collectors keep their findings
                for row in s.scalars(select(DriftFinding)):
                    if self.owns_finding(row.link, row.detail):
                        s.delete(row)
            for item in report.items:
                if self.owns_finding is not None and not self.owns_finding(item.link, item.detail):
                    continue
                s.add(DriftFinding(kind=item.kind, link=item.link, detail=item.detail, found_at=now))
        return new_versions

    @staticmethod
    def _store_config(s, device: str, text: str, now) -> bool:  # type: ignore[no-untyped-def]
        latest = s.scalars(
            select(ConfigVersion).where(ConfigVersion.device == device).order_by(ConfigVersion.version.desc()).limit(1)
        ).first()
        new = backup(text)
        if not changed(latest.digest if latest else None, new):
            return False
        number = (s.scalar(select(func.max(ConfigVersion.version)).where(ConfigVersion.device == device)) or 0) + 1
        s.add(
            ConfigVersion(
                device=device,
                version=number,
                digest=new.digest,
                text=text,
                diff=diff(latest.text, text, f"v{latest.version}", f"v{number}") if latest else "",
                taken_at=now,
            )
        )
        log.info("configuration of %s changed: version %d", device, number)
        return True


class NapalmService:
    """Runs the NAPALM round every ``interval`` seconds (slower than SNMP: minutes, not seconds)."""

    name = "napalm"

    def __init__(self, collector: NapalmCollector, interval: float = 900.0) -> None:
        self.collector = collector
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self.last_report: RoundReport | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="napalm")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            try:
                self.last_report = await self.collector.round()
            except Exception:
                log.exception("NAPALM round failed")
            await asyncio.sleep(self.interval)
