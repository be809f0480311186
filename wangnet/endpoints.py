"""The one place that decides where a device is actually reached (DESIGN.md, Lab).

The inventory always holds the real address plan. In ``production`` and
``lab`` mode a device is reached at its inventory management address, port
161, with its inventory credentials (the lab answers there, through the
management veth, with the lab's own secrets file). In ``sim`` mode it is the
simulation's loopback port, read from the simulation's state file under
``var/sim/``, with the simulation's v2c credential from ``var/sim/secrets.yaml``.
Callers resolve credential ids with ``EndpointResolver.credentials`` and never
branch on the mode themselves.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from topology.schema import Device, Inventory
from wangnet.config import Settings
from wangnet.credentials import CredentialResolver
from wangnet.processes import pid_alive

MODES = ("production", "lab", "sim")
SIM_CREDENTIAL = "sim-v2c"


class EndpointError(LookupError):
    """A device cannot be located (unknown mode, simulation not running, device not simulated)."""


@dataclass(frozen=True)
class Endpoint:
    """Where to reach one device and which credential ids (and kinds) to use there."""

    device: str
    address: str
    port: int
    snmp_credential: str
    snmp_kind: str
    ssh_credential: str | None  # None: no CLI access there (the simulation speaks SNMP only)


def sim_state_path(settings: Settings) -> Path:
    return settings.var_dir / "sim" / "state.json"


def sim_secrets_path(settings: Settings) -> Path:
    return settings.var_dir / "sim" / "secrets.yaml"


class EndpointResolver:
    """Built once from settings (and the inventory); ``resolve(device)`` for every device."""

    def __init__(self, settings: Settings, inventory: Inventory) -> None:
        if settings.device_mode not in MODES:
            raise EndpointError(f"unknown device mode {settings.device_mode!r}: expected one of {', '.join(MODES)}")
        self.settings = settings
        self.inventory = inventory
        self._sim: dict[str, dict[str, object]] | None = None

    @property
    def mode(self) -> str:
        return self.settings.device_mode

    def _sim_endpoints(self) -> dict[str, dict[str, object]]:
        if self._sim is None:
            path = sim_state_path(self.settings)
            try:
                state = json.loads(path.read_text())
            except FileNotFoundError:
                raise EndpointError(f"device mode is sim but no simulation runs ({path} is missing): "
                                    "start it with `wangnet sim up`") from None
            except ValueError as exc:
                raise EndpointError(f"{path}: not a simulation state file: {exc}") from None
            if not pid_alive(int(state.get("pid", 0))):
                raise EndpointError(f"device mode is sim but the simulation (pid {state.get('pid')}) is not running: "
                                    "start it with `wangnet sim up`")
            self._sim = state["devices"]
        return self._sim

    def resolve(self, device: Device) -> Endpoint:
        """Where ``device`` answers in the configured mode."""
        if self.mode in ("production", "lab"):
            kind = self.inventory.credentials[device.snmp].kind
            return Endpoint(device.id, str(device.mgmt), 161, device.snmp, kind, device.ssh)
        endpoint = self._sim_endpoints().get(device.id)
        if endpoint is None:
            raise EndpointError(f'device "{device.id}" is not in the running simulation (started from another inventory?)')
        return Endpoint(device.id, str(endpoint["address"]), int(endpoint["port"]), SIM_CREDENTIAL, "snmp-v2c", None)  # type: ignore[call-overload]

    def credentials(self) -> CredentialResolver:
        """The resolver for the credential ids this mode hands out (the simulation has its own secrets file)."""
        if self.mode == "sim":
            return CredentialResolver(self.settings.extra_env, sim_secrets_path(self.settings))
        return CredentialResolver(self.settings.extra_env, self.settings.secrets_file)
