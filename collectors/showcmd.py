"""Show commands: a read-only command from a per-platform allow-list, run over SSH on a few devices.

The allow-list and the validation are pure (``check_request``), so a command
that is not on the list is refused before any connection is opened. The
netmiko session is synchronous: ``run_many`` runs one per device in worker
threads and gives each device its own deadline, so a device that does not
answer costs its timeout and never delays the answer about the others.
Passwords never leave this module: they are scrubbed from outputs and errors.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Mapping

from collectors.getters import SshLogin

# Read-only commands an operator may run, by the inventory's platform. Exact text only (after
# collapsing whitespace): no arguments, pipes or abbreviations, so nothing outside this list can run.
ALLOWED: dict[str, tuple[str, ...]] = {
    "linux": ("ip -brief address", "ip -brief link", "ip route", "uptime"),
    "huawei_vrp": ("display interface brief", "display ip routing-table", "display version"),
    "h3c_comware": ("display interface brief", "display ip routing-table", "display version"),
    "ios": ("show ip interface brief", "show ip route", "show version"),
}
# inventory platform → netmiko device_type
NETMIKO_TYPES: dict[str, str] = {"linux": "linux", "huawei_vrp": "huawei", "h3c_comware": "hp_comware", "ios": "cisco_ios"}
MAX_DEVICES = 5
MAX_OUTPUT_CHARS = 200_000


class ShowCommandRefused(ValueError):
    """The request is not allowed; the message says what is wrong and where."""


@dataclass(frozen=True)
class ShowTarget:
    device: str
    platform: str  # the platform whose allow-list and netmiko driver apply (the lab's devices are "linux")


@dataclass(frozen=True)
class ShowResult:
    device: str
    ok: bool
    output: str
    error: str
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return {"device": self.device, "ok": self.ok, "output": self.output, "error": self.error,
                "seconds": round(self.seconds, 2)}


def normalise(command: str) -> str:
    return " ".join(command.split())


def check_request(platforms: Mapping[str, str], devices: list[str], command: str) -> tuple[list[ShowTarget], str]:
    """The targets and the normalised command, or ``ShowCommandRefused`` naming the first problem.

    ``platforms`` maps every known device to the platform it is driven as.
    """
    wanted = list(dict.fromkeys(d.strip() for d in devices if d and d.strip()))
    if not wanted:
        raise ShowCommandRefused("devices: choose at least one device")
    if len(wanted) > MAX_DEVICES:
        raise ShowCommandRefused(f"devices: at most {MAX_DEVICES} devices per run, got {len(wanted)}")
    unknown = [d for d in wanted if d not in platforms]
    if unknown:
        raise ShowCommandRefused(f"devices: no device {unknown[0]!r} in the inventory")
    text = normalise(command)
    if not text:
        raise ShowCommandRefused("command: empty")
    targets = []
    for device in wanted:
        platform = platforms[device]
        allowed = ALLOWED.get(platform, ())
        if text not in allowed:
            raise ShowCommandRefused(
                f"command: {text[:80]!r} is not on the allow-list of {device} ({platform}): "
                + (", ".join(allowed) or "none")
            )
        targets.append(ShowTarget(device, platform))
    return targets, text


def scrub(text: str, secrets: list[str]) -> str:
    """Remove secret values a device or a library might echo back."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def _reason(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return f"{exc.__class__.__name__}: {lines[0] if lines else ''}".rstrip(": ")


def explain(exc: BaseException, device: str, host: str, port: int, timeout: float) -> str:
    """What a failed session means for the operator (netmiko's own messages advise on its settings)."""
    where = f"{device} ({host}:{port})"
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    names = {type(e).__name__ for e in chain}
    text = " ".join(str(e) for e in chain).lower()
    if "SshHostKeyMismatch" in names:
        return str(exc)
    refused = [e for e in chain for sub in getattr(e, "errors", {}).values() if isinstance(sub, ConnectionRefusedError)]
    if refused or any(isinstance(e, ConnectionRefusedError) for e in chain) or "connection refused" in text:
        return f"{where} refused the SSH connection"
    if "NoValidConnectionsError" in names or "unable to connect" in text:
        return f"{where} cannot be reached"
    if "NetmikoAuthenticationException" in names or "authentication" in text:
        return f"{where} refused the login (authentication failed)"
    if "NetmikoTimeoutException" in names or "timeout" in text or "timed out" in text or "banner" in text:
        return f"{where} did not answer within {timeout:g} s"
    return f"{where}: {_reason(exc)}"


def run_one(target: ShowTarget, command: str, login: SshLogin) -> ShowResult:
    """Log in, run the command, log out (synchronous: call it from a worker thread)."""
    from napalm_device_types.ssh_host_keys import HostKeyCheck
    from netmiko import ConnectHandler

    started = time.monotonic()
    secrets = [login.password]
    timeout = float(login.timeout)
    base: dict[str, Any] = {
        "device_type": NETMIKO_TYPES[target.platform],
        "host": login.host,
        "port": login.port,
        "username": login.username,
        "password": login.password,
        "conn_timeout": timeout,
        "auth_timeout": timeout,
        "banner_timeout": timeout,
        "timeout": timeout,
        "read_timeout_override": timeout,
        "allow_agent": False,
        "fast_cli": False,
    }
    if login.key_file:
        base.update(use_keys=True, key_file=login.key_file)
    known = {str(login.port): dict(login.known_host_key)} if login.known_host_key else None
    check = HostKeyCheck({"ssh_host_keys": known} if known else None, login.host, login.port)
    try:
        with check.netmiko(base) as kwargs:
            conn = ConnectHandler(**kwargs)
        try:
            output = conn.send_command(command, read_timeout=timeout)
        finally:
            try:
                conn.disconnect()
            except Exception:
                pass
    except Exception as exc:  # netmiko/paramiko raise many types for a dead or refusing device
        reason = explain(exc, target.device, login.host, login.port, timeout)
        return ShowResult(target.device, False, "", scrub(reason, secrets), time.monotonic() - started)
    return ShowResult(target.device, True, scrub(str(output)[:MAX_OUTPUT_CHARS], secrets), "", time.monotonic() - started)


def run_many(
    targets: list[ShowTarget], command: str, logins: Mapping[str, SshLogin], errors: Mapping[str, str] | None = None
) -> list[ShowResult]:
    """Run on every target at once; each answers within its own login's timeout (plus a little slack).

    A session that overruns its deadline (a device that accepts TCP but never
    speaks SSH can hold paramiko past its nominal timeouts) is reported as not
    answering; its thread ends on its own when the library gives up.
    """
    errors = errors or {}
    results: dict[str, ShowResult] = {}
    pool = ThreadPoolExecutor(max_workers=max(len(targets), 1), thread_name_prefix="showcmd")
    started = time.monotonic()
    futures = {}
    for t in targets:
        if t.device in errors or t.device not in logins:
            results[t.device] = ShowResult(t.device, False, "", errors.get(t.device, f"{t.device}: no SSH login"), 0.0)
        else:
            futures[t.device] = pool.submit(run_one, t, command, logins[t.device])
    try:
        for device, future in futures.items():
            budget = float(logins[device].timeout) + 2.0
            remaining = max(budget - (time.monotonic() - started), 0.0)
            done, _ = wait([future], timeout=remaining)
            if done:
                results[device] = future.result()
            else:
                results[device] = ShowResult(device, False, "",
                                             f"{device} ({logins[device].host}:{logins[device].port}) did not answer within {logins[device].timeout:g} s",
                                             time.monotonic() - started)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return [results[t.device] for t in targets]


def outcome(results: list[ShowResult]) -> str:
    """One line for the audit log: each device's verdict."""
    return "; ".join(f"{r.device}: ok" if r.ok else f"{r.device}: {r.error[:200]}" for r in results)
