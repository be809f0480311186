"""How show commands reach devices in each device mode: platform, SSH endpoint, credentials, pinned host key.

Production and the lab use the inventory's management address on port 22
(the lab emulates every router with Linux, so its devices are driven as
``linux`` whatever the inventory says); the simulation has no SSH at all.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import select

from collectors.getters import SshLogin
from collectors.models import DeviceFacts
from collectors.showcmd import ShowCommandRefused
from topology.schema import Device, Inventory
from wangnet.config import Settings
from wangnet.credentials import CredentialError, CredentialResolver
from wangnet.store import Store

SshEndpointFn = Callable[[Device], tuple[str, int]]


def platforms(settings: Settings, inventory: Inventory) -> dict[str, str]:
    """Device → the platform its show commands are chosen and driven by."""
    if settings.device_mode == "lab":
        return {d.id: "linux" for d in inventory.devices}
    return {d.id: d.platform for d in inventory.devices}


def mgmt_endpoint(device: Device) -> tuple[str, int]:
    return str(device.mgmt), 22


def logins(
    settings: Settings,
    inventory: Inventory,
    store: Store,
    devices: list[str],
    timeout: int,
    endpoint: SshEndpointFn = mgmt_endpoint,
) -> tuple[dict[str, SshLogin], dict[str, str]]:
    """SSH logins for ``devices`` (secrets resolved now, host keys pinned by the NAPALM round), and per-device errors."""
    if settings.device_mode == "sim":
        raise ShowCommandRefused("show commands need SSH, and the simulation (device mode 'sim') has none")
    resolver = CredentialResolver.from_settings(settings)
    with store.session() as s:
        pinned = {
            f.device: {"key_type": f.host_key_type, "key": f.host_key}
            for f in s.scalars(select(DeviceFacts).where(DeviceFacts.device.in_(devices), DeviceFacts.host_key.is_not(None)))
        }
    out: dict[str, SshLogin] = {}
    errors: dict[str, str] = {}
    for device_id in devices:
        device = inventory.device(device_id)
        try:
            secrets = resolver.resolve(device.ssh, "ssh")
        except CredentialError as exc:
            errors[device_id] = f"{device_id}: {exc}"
            continue
        host, port = endpoint(device)
        out[device_id] = SshLogin(host, port, secrets["username"].reveal(), secrets["password"].reveal(), timeout,
                                  None, pinned.get(device_id))
    return out, errors
