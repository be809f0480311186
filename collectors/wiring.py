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
from collectors.service import Collector, CollectorService
from collectors.targets import targets_for_mode
from collectors.trapd import TrapReceiver
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


def make_collector(settings: Settings, inventory: Inventory, store: Store, timeout: float = 1.0, retries: int = 1) -> Collector:
    services = None
    if settings.device_mode == "production":  # the lab and the simulation emulate devices, not the applications
        services = lambda: [(s, str(s.address), s.port) for s in inventory.services]  # noqa: E731
    return Collector(
        inventory,
        store,
        lambda: targets_for_mode(settings, inventory, timeout, retries),
        notifier=Notifier(settings, store, {s.id: s.name for s in inventory.sites}),
        services=services,
    )


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


def build_services(settings: Settings, store: Store, inventory: Inventory) -> list[Service]:
    """The collectors' runtime services; none when ``collector_interval`` is 0."""
    if settings.collector_interval <= 0:
        return []
    collector = make_collector(settings, inventory, store)
    polling = CollectorService(collector, settings.collector_interval)
    metrics.register(
        CollectorMetrics(inventory, lambda: collector.last_report, lambda: collector.failures, lambda: collector.last_services)
    )
    out: list[Service] = [polling]
    if settings.device_mode != "sim":
        out.append(TrapReceiver(trap_host(settings), trap_port(settings), trap_sources(settings, inventory), polling.on_trap))
        resolver = CredentialResolver.from_settings(settings)
        napalm = NapalmCollector(
            inventory,
            store,
            lambda pinned: ssh_logins(inventory, lambda d: (str(d.mgmt), 22), resolver, pinned),
            platform_override="linux" if settings.device_mode == "lab" else None,
        )
        out.append(NapalmService(napalm, settings.napalm_interval))
    return out


__all__ = ["build_services", "make_collector"]
