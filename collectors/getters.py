"""NAPALM getters by the inventory's ``platform``: facts, interfaces, LLDP, configuration.

NAPALM is synchronous; callers run ``snapshot`` in a worker pool. Each getter is
guarded on its own, so a driver that lacks one (napalm-linux has no
``get_interfaces_counters``) still yields the others, and the missing one is
reported by name rather than failing the device. SSH host keys are trusted on
first use and then pinned: a device whose key changes is refused before any
password is sent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from collectors.drift import Neighbour

# inventory platform → NAPALM driver name (the community drivers register under these names)
DRIVERS: dict[str, str] = {"ios": "ios", "huawei_vrp": "huawei_vrp", "h3c_comware": "h3c_comware", "linux": "linux"}
GETTERS = ("get_facts", "get_interfaces", "get_interfaces_counters", "get_lldp_neighbors", "get_config")


@dataclass(frozen=True)
class SshLogin:
    host: str
    port: int
    username: str
    password: str
    timeout: int = 30
    key_file: str | None = None  # private key instead of (or besides) the password
    known_host_key: Mapping[str, str] | None = None  # {"key_type": ..., "key": ...} pinned after first use


@dataclass
class Snapshot:
    device: str
    facts: dict[str, Any] = field(default_factory=dict)
    interfaces: dict[str, Any] = field(default_factory=dict)
    counters: dict[str, Any] = field(default_factory=dict)
    lldp: list[Neighbour] = field(default_factory=list)
    lldp_ok: bool = False
    config: str | None = None
    errors: dict[str, str] = field(default_factory=dict)  # getter (or "connect") → reason
    host_key: dict[str, str] | None = None


def lldp_neighbours(raw: Mapping[str, list[Mapping[str, Any]]]) -> list[Neighbour]:
    """NAPALM's ``get_lldp_neighbors`` shape → ``Neighbour`` records (hostnames without domain)."""
    out = []
    for local, entries in raw.items():
        for entry in entries:
            host = str(entry.get("hostname", "")).split(".")[0]
            out.append(Neighbour(local, host, str(entry.get("port", ""))))
    return out


def driver_class(platform: str) -> Callable[..., Any]:
    from napalm import get_network_driver

    try:
        return get_network_driver(DRIVERS[platform])
    except KeyError:
        raise ValueError(f"no NAPALM driver for platform {platform!r}") from None


def snapshot(device: str, platform: str, login: SshLogin, want_config: bool = True) -> Snapshot:
    """Connect once, run every getter, disconnect; never raises for a device problem."""
    result = Snapshot(device)
    seen_keys: list[dict[str, Any]] = []
    optional: dict[str, Any] = {"port": login.port, "ssh_host_key_observer": seen_keys.append}
    if login.key_file:
        optional.update(use_keys=True, key_file=login.key_file, allow_agent=False)
    if login.known_host_key:
        optional["ssh_host_keys"] = {str(login.port): dict(login.known_host_key)}
    try:
        driver = driver_class(platform)(login.host, login.username, login.password, timeout=login.timeout, optional_args=optional)
        driver.open()
    except Exception as exc:  # napalm/netmiko/paramiko raise many types for a dead or refusing device
        result.errors["connect"] = _reason(exc)
        return result
    finally:
        for seen in seen_keys:
            if seen.get("accepted"):
                result.host_key = {"key_type": seen["seen"]["key_type"], "key": seen["seen"]["key"]}
    try:
        for getter in GETTERS:
            if getter == "get_config" and not want_config:
                continue
            try:
                value = getattr(driver, getter)()
            except NotImplementedError:
                result.errors[getter] = "not implemented by the driver"
                continue
            except Exception as exc:
                result.errors[getter] = _reason(exc)
                continue
            if getter == "get_facts":
                result.facts = dict(value)
            elif getter == "get_interfaces":
                result.interfaces = dict(value)
            elif getter == "get_interfaces_counters":
                result.counters = dict(value)
            elif getter == "get_lldp_neighbors":
                result.lldp = lldp_neighbours(value)
                result.lldp_ok = True
            else:
                result.config = value.get("running") or ""
    finally:
        try:
            driver.close()
        except Exception:
            pass
    return result


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0] if text else ''}".rstrip(": ")
