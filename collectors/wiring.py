"""How ``serve`` and ``wangnet collector`` assemble the collectors from the settings.

One place decides what runs: the SNMP collector with its alert notifications
and service checks, the trap receiver that wakes it, the NAPALM round (not in
simulation mode: the simulation has no SSH), and the metrics view.
"""
from __future__ import annotations

import logging
import os
from typing import Callable

from collectors.metrics import CollectorMetrics
from collectors.napalm_round import NapalmCollector, NapalmService, ssh_logins
from collectors.notifier import Notifier
from collectors.scope import Scope
from collectors.scoped import ScopedCollector
from collectors.service import Collector, CollectorService
from collectors.targets import targets_for_mode
from collectors.trapd import TrapReceiver, V3User
from topology.schema import Inventory
from wangnet import metrics
from wangnet.config import Settings
from wangnet.credentials import CredentialResolver
from wangnet.runtime import Service
from wangnet.store import Store

log = logging.getLogger(__name__)


def trap_port(settings: Settings) -> int:
    """The configured port; in lab mode the port the lab's devices send to; else 162 as root, 1162 not."""
    if settings.trap_port:
        return settings.trap_port
    if settings.device_mode == "lab":
        return settings.lab_trap_port
    return 162 if os.geteuid() == 0 else 1162


def trap_host(settings: Settings) -> str:
    if settings.trap_host:
        return settings.trap_host
    return "127.0.0.1" if settings.device_mode == "sim" else "0.0.0.0"


def make_collector(
    settings: Settings, inventory: Inventory, store: Store, timeout: float = 1.0, retries: int = 1, scope: Scope | None = None
) -> Collector:
    """The whole network's collector, or with ``scope`` one banner's (``wangnet collector --banner``)."""
    services = None
    if settings.device_mode == "production":  # the lab and the simulation emulate devices, not the applications
        services = lambda: [  # noqa: E731
            (s, str(s.address), s.port) for s in inventory.services if scope is None or scope.owns_device(s.device)
        ]
    notifier = Notifier(settings, store, {s.id: s.name for s in inventory.sites})
    if scope is None:
        return Collector(inventory, store, lambda: targets_for_mode(settings, inventory, timeout, retries),
                         notifier=notifier, services=services)

    def scoped_targets():  # type: ignore[no-untyped-def]
        targets, errors = targets_for_mode(settings, inventory, timeout, retries)
        return [t for t in targets if t.device in scope.observed], {d: e for d, e in errors.items() if d in scope.observed}

    return ScopedCollector(inventory, store, scoped_targets, scope=scope, notifier=notifier, services=services)


def trap_sources(settings: Settings, inventory: Inventory) -> Callable[[str], "tuple[str, frozenset[str]] | None"]:
    """Source address → (device, the communities accepted from it).

    Networks configure one trap community everywhere, often also on devices
    polled with SNMPv3; so a trap is accepted with the community of any v2c
    credential of the inventory, but only from a device's management address.
    """
    resolver = CredentialResolver.from_settings(settings)
    communities = set()
    for cred_id, cred in inventory.credentials.items():
        if cred.kind == "snmp-v2c":
            try:
                communities.add(resolver.field(cred_id, "community").reveal())
            except LookupError:
                log.warning("trap community of credential %s is not set; traps using it are refused", cred_id)
    accepted = frozenset(communities)
    by_address = {str(d.mgmt): (d.id, accepted) for d in inventory.devices}
    return by_address.get


def trap_v3_users(settings: Settings, inventory: Inventory) -> list[V3User]:
    """The inventory's SNMPv3 users, whose authPriv INFORMs the receiver accepts from the devices' addresses."""
    resolver = CredentialResolver.from_settings(settings)
    users = []
    for cred_id, cred in inventory.credentials.items():
        if cred.kind != "snmp-v3":
            continue
        try:
            users.append(V3User(resolver.field(cred_id, "username").reveal(), resolver.field(cred_id, "auth_key").reveal(),
                                resolver.field(cred_id, "priv_key").reveal(), cred.auth_protocol or "sha",
                                cred.priv_protocol or "aes"))
        except LookupError:
            log.warning("SNMPv3 credential %s is not set; notifications sent as its user are refused", cred_id)
    return users


def _owned_sources(sources: Callable[[str], "tuple[str, frozenset[str]] | None"], scope: Scope | None):  # type: ignore[no-untyped-def]
    """Trap sources narrowed to the scope's own devices: another scope's traps are its collector's business."""
    if scope is None:
        return sources

    def owned(address: str) -> "tuple[str, frozenset[str]] | None":
        hit = sources(address)
        return hit if hit is not None and scope.owns_device(hit[0]) else None

    return owned


def build_services(settings: Settings, store: Store, inventory: Inventory, scope: Scope | None = None) -> list[Service]:
    """The collectors' runtime services (of one ``scope`` when given); none when ``collector_interval`` is 0."""
    if settings.collector_interval <= 0:
        return []
    collector = make_collector(settings, inventory, store, scope=scope)
    polling = CollectorService(collector, settings.collector_interval)
    if scope is None:
        report, failures = (lambda: collector.last_report), (lambda: collector.failures)
    else:  # the city core, polled by every banner's collector, is exported by the city's alone
        report = lambda: scope.report_view(collector.last_report)  # noqa: E731
        failures = lambda: {d: n for d, n in collector.failures.items() if scope.owns_device(d)}  # noqa: E731
    metrics.register(CollectorMetrics(inventory, report, failures, lambda: collector.last_services))
    out: list[Service] = [polling]
    if settings.device_mode != "sim":
        sources = trap_sources(settings, inventory)
        out.append(TrapReceiver(trap_host(settings), trap_port(settings), _owned_sources(sources, scope), polling.on_trap,
                                v3_users=trap_v3_users(settings, inventory)))
        resolver = CredentialResolver.from_settings(settings)

        def logins(pinned):  # type: ignore[no-untyped-def]
            found, errors = ssh_logins(inventory, lambda d: (str(d.mgmt), 22), resolver, pinned)
            if scope is None:
                return found, errors
            return ({d: v for d, v in found.items() if scope.owns_device(d)},
                    {d: e for d, e in errors.items() if scope.owns_device(d)})

        napalm = NapalmCollector(
            inventory,
            store,
            logins,
            platform_override="linux" if settings.device_mode == "lab" else None,
            owns_finding=scope.owns_finding if scope is not None else None,
        )
        out.append(NapalmService(napalm, settings.napalm_interval))
    return out


__all__ = ["build_services", "make_collector"]
