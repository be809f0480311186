"""From the inventory to SNMP targets: where each device is reached and with which credential.

Where a device is reached is decided elsewhere (the endpoint resolver: the
inventory's management address in production and in the lab, a loopback port
in the simulation); here the credential reference is resolved to its secret.
A device whose credential cannot be resolved is reported, not silently dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from collectors.snmp import SnmpTarget
from topology.schema import Device, Inventory
from wangnet.credentials import CredentialError, CredentialResolver, Secret


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int = 161
    community: Secret | None = None  # the simulation's per-device community overrides the inventory's credential


EndpointFn = Callable[[Device], Endpoint]


def inventory_endpoint(device: Device) -> Endpoint:
    """Production and lab: the management address from the inventory."""
    return Endpoint(str(device.mgmt), 161)


def build_targets(
    inventory: Inventory,
    endpoint: EndpointFn,
    credentials: CredentialResolver,
    timeout: float = 1.0,
    retries: int = 1,
    devices: set[str] | None = None,
) -> tuple[list[SnmpTarget], dict[str, str]]:
    """Targets for every device (or ``devices``), and an error per device that cannot be polled."""
    targets: list[SnmpTarget] = []
    errors: dict[str, str] = {}
    for device in inventory.devices:
        if devices is not None and device.id not in devices:
            continue
        where = endpoint(device)
        if where.community is not None:
            targets.append(SnmpTarget(device.id, where.host, where.port, community=where.community, timeout=timeout, retries=retries))
            continue
        cred = inventory.credentials[device.snmp]
        try:
            secrets = credentials.resolve(device.snmp, cred.kind)
        except CredentialError as exc:
            errors[device.id] = f"{device.id}: {exc}"
            continue
        if cred.kind == "snmp-v2c":
            target = SnmpTarget(device.id, where.host, where.port, community=secrets["community"], timeout=timeout, retries=retries)
        else:
            target = SnmpTarget(
                device.id,
                where.host,
                where.port,
                username=secrets["username"],
                auth_key=secrets["auth_key"],
                priv_key=secrets["priv_key"],
                auth_protocol=cred.auth_protocol or "sha",
                priv_protocol=cred.priv_protocol or "aes",
                timeout=timeout,
                retries=retries,
            )
        targets.append(target)
    return targets, errors


def targets_for_mode(
    settings, inventory: Inventory, timeout: float = 1.0, retries: int = 1  # type: ignore[no-untyped-def]
) -> tuple[list[SnmpTarget], dict[str, str]]:
    """Targets where the configured device mode says devices answer (``wangnet.endpoints``), read afresh.

    Built per cycle so that a simulation restarted on other ports is followed
    without restarting the collector.
    """
    from wangnet.endpoints import EndpointError, EndpointResolver

    try:
        resolver = EndpointResolver(settings, inventory)
    except EndpointError as exc:
        return [], {d.id: f"{d.id}: {exc}" for d in inventory.devices}
    credentials = resolver.credentials()
    targets: list[SnmpTarget] = []
    errors: dict[str, str] = {}
    for device in inventory.devices:
        try:
            ep = resolver.resolve(device)
            secrets = credentials.resolve(ep.snmp_credential, ep.snmp_kind)
        except (EndpointError, CredentialError) as exc:
            errors[device.id] = f"{device.id}: {exc}"
            continue
        if ep.snmp_kind == "snmp-v2c":
            targets.append(SnmpTarget(device.id, ep.address, ep.port, community=secrets["community"], timeout=timeout, retries=retries))
            continue
        cred = inventory.credentials.get(ep.snmp_credential)
        targets.append(
            SnmpTarget(
                device.id, ep.address, ep.port,
                username=secrets["username"], auth_key=secrets["auth_key"], priv_key=secrets["priv_key"],
                auth_protocol=(cred.auth_protocol if cred else None) or "sha",
                priv_protocol=(cred.priv_protocol if cred else None) or "aes",
                timeout=timeout, retries=retries,
            )
        )
    return targets, errors
