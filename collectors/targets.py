"""From the inventory to SNMP targets: where each device is reached and with which credential.

Where a device is reached is decided elsewhere (the endpoint resolver: the
inventory's management address in production and in the lab, a loopback port
in the simulation); here the credential reference is resolved to its secret.
A device whose credential cannot be resolved is reported, not silently dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from collectors.snmp import SnmpTarget
from topology.schema import Credential, Device, Inventory
from wangnet.credentials import CredentialError, CredentialResolver, Secret


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int = 161


EndpointFn = Callable[[Device], Endpoint]


def snmp_target(
    device_id: str,
    host: str,
    port: int,
    kind: str,
    secrets: Mapping[str, Secret],
    cred: Credential | None,
    timeout: float,
    retries: int,
) -> SnmpTarget:
    """A target from a resolved credential: v2c community, or a v3 user with the inventory's protocols."""
    if kind == "snmp-v2c":
        return SnmpTarget(device_id, host, port, community=secrets["community"], timeout=timeout, retries=retries)
    return SnmpTarget(
        device_id, host, port,
        username=secrets["username"], auth_key=secrets["auth_key"], priv_key=secrets["priv_key"],
        auth_protocol=(cred.auth_protocol if cred else None) or "sha",
        priv_protocol=(cred.priv_protocol if cred else None) or "aes",
        timeout=timeout, retries=retries,
    )


def build_targets(
    inventory: Inventory,
    endpoint: EndpointFn,
    credentials: CredentialResolver,
    timeout: float = 1.0,
    retries: int = 1,
) -> tuple[list[SnmpTarget], dict[str, str]]:
    """Targets at explicit endpoints with the inventory's credentials, and an error per device that cannot be polled."""
    targets: list[SnmpTarget] = []
    errors: dict[str, str] = {}
    for device in inventory.devices:
        where = endpoint(device)
        cred = inventory.credentials[device.snmp]
        try:
            secrets = credentials.resolve(device.snmp, cred.kind)
        except CredentialError as exc:
            errors[device.id] = f"{device.id}: {exc}"
            continue
        targets.append(snmp_target(device.id, where.host, where.port, cred.kind, secrets, cred, timeout, retries))
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
        cred = inventory.credentials.get(ep.snmp_credential)
        targets.append(snmp_target(device.id, ep.address, ep.port, ep.snmp_kind, secrets, cred, timeout, retries))
    return targets, errors
