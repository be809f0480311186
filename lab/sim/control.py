"""``sim up/down/status/fail/heal``: the simulation's life cycle from separate CLI invocations.

Everything lives under ``var/sim/``: ``secrets.yaml`` (the community, mode
600, in the scheme of ``wangnet/credentials.py``), ``state.json`` (written by
the server: its pid and every device's endpoint), ``failures.json`` (written
here, followed by the server) and the server's log.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lab import secrets as lab_secrets
from lab.sim.model import reachable
from lab.sim.server import CREDENTIAL_ID, read_failures
from topology.graph import build_graph
from topology.loader import load_inventory
from wangnet.processes import pid_alive

START_TIMEOUT_S = 30.0


class SimError(RuntimeError):
    """The simulation cannot do what was asked; the message says why."""


def sim_dir(var_dir: Path) -> Path:
    return var_dir / "sim"


def load_state(directory: Path) -> dict[str, Any] | None:
    try:
        return json.loads((directory / "state.json").read_text())  # type: ignore[no-any-return]
    except (FileNotFoundError, ValueError):
        return None


def running_state(directory: Path) -> dict[str, Any] | None:
    """The state of a simulation whose server is alive, else None."""
    state = load_state(directory)
    if state is not None and pid_alive(int(state["pid"])):
        return state
    return None


def up(var_dir: Path, inventory: Path, port_base: int) -> dict[str, Any]:
    """Start the simulation server in the background; return its state once every port is bound."""
    directory = sim_dir(var_dir)
    if running_state(directory) is not None:
        raise SimError(f"a simulation is already running (state in {directory}); `wangnet sim down` first")
    inv = load_inventory(inventory)  # fail here, in the foreground, on a bad inventory
    if directory.exists():
        shutil.rmtree(directory)  # remains of a crashed run
    directory.mkdir(parents=True, mode=0o700)
    lab_secrets.write(directory / "secrets.yaml", {CREDENTIAL_ID: {"community": "sim-" + secrets.token_hex(8)}})
    log = open(directory / "sim.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "lab.sim.server", str(directory), str(inventory.resolve()), str(port_base)],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            cwd=str(Path(__file__).resolve().parents[2]))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        state = load_state(directory)
        if state is not None and state["pid"] == proc.pid:
            if len(state["devices"]) != len(inv.devices):
                raise SimError(f"simulation serves {len(state['devices'])} of {len(inv.devices)} devices")
            return state
        if proc.poll() is not None:
            tail = (directory / "sim.log").read_text(errors="replace")[-2000:]
            raise SimError(f"the simulation server exited ({proc.returncode}):\n{tail}")
        time.sleep(0.05)
    proc.terminate()
    raise SimError(f"the simulation did not start within {START_TIMEOUT_S:.0f} s (log: {directory / 'sim.log'})")


def down(var_dir: Path) -> bool:
    """Stop the server and remove ``var/sim``; False when nothing was running."""
    directory = sim_dir(var_dir)
    state = load_state(directory)
    was_running = False
    if state is not None and pid_alive(int(state["pid"])):
        was_running = True
        os.kill(int(state["pid"]), signal.SIGTERM)
        deadline = time.monotonic() + 10
        while pid_alive(int(state["pid"])) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(int(state["pid"])):
            os.kill(int(state["pid"]), signal.SIGKILL)
    if directory.exists():
        shutil.rmtree(directory)
    return was_running


def _need(var_dir: Path) -> tuple[Path, dict[str, Any]]:
    directory = sim_dir(var_dir)
    state = running_state(directory)
    if state is None:
        raise SimError("no simulation is running; start one with `wangnet sim up`")
    return directory, state


def _write_failures(directory: Path, links: set[str], devices: set[str]) -> None:
    tmp = directory / "failures.json.tmp"
    tmp.write_text(json.dumps({"links": sorted(links), "devices": sorted(devices)}))
    tmp.replace(directory / "failures.json")


def fail(var_dir: Path, link: str | None = None, device: str | None = None) -> tuple[set[str], set[str]]:
    directory, state = _need(var_dir)
    inv = load_inventory(state["inventory"])
    links, devices = read_failures(directory / "failures.json")
    if link is not None:
        inv.link(link)  # KeyError names an unknown link
        links.add(link)
    if device is not None:
        inv.device(device)
        devices.add(device)
    _write_failures(directory, links, devices)
    return links, devices


def heal(var_dir: Path, link: str | None = None, device: str | None = None) -> tuple[set[str], set[str]]:
    """Undo one failure, or all of them when neither is given."""
    directory, _ = _need(var_dir)
    links, devices = read_failures(directory / "failures.json")
    if link is None and device is None:
        links, devices = set(), set()
    links.discard(link or "")
    devices.discard(device or "")
    _write_failures(directory, links, devices)
    return links, devices


def status(var_dir: Path) -> dict[str, Any]:
    directory, state = _need(var_dir)
    links, devices = read_failures(directory / "failures.json")
    g = build_graph(load_inventory(state["inventory"]))
    answering = reachable(g, links, devices)
    return {
        "pid": state["pid"],
        "devices": len(state["devices"]),
        "failed_links": sorted(links),
        "failed_devices": sorted(devices),
        "answering": len(answering),
        "silent": sorted(set(state["devices"]) - answering),
        "secrets_file": str(directory / "secrets.yaml"),
        "endpoints": state["devices"],
    }
