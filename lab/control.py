"""``lab up/down/status/fail/heal/exec``: the lab's life cycle, shared by the CLI, the fixtures and the bench.

Every invocation is a separate process, so all it needs is kept in a JSON
state file in the run directory, written *before* anything is built: an
``up`` after a crash finds it and tears the remains down first.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from lab import configs, netns
from lab import secrets as lab_secrets
from lab.daemons import RunDir, prepare_devices, prepare_users, wrap
from lab.plan import DEFAULT_MGMT_SUBNET, LabPlan, build_plan
from topology.analysis import impact_of_device, impact_of_link
from topology.graph import build_graph
from topology.loader import load_inventory
from topology.schema import Inventory
from wangnet.processes import pid_alive

STATE_VERSION = 1
NETNS_DIR = Path("/run/netns")


class LabError(RuntimeError):
    """The lab cannot do what was asked; the message says why and what to do."""


@dataclass(frozen=True)
class Reachability:
    answering: tuple[str, ...]
    silent: tuple[str, ...]


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, veths, routes); without root use `wangnet sim`")


def load_state(run_dir: RunDir) -> dict[str, Any] | None:
    try:
        return json.loads(run_dir.state.read_text())  # type: ignore[no-any-return]
    except FileNotFoundError:
        return None


def save_state(run_dir: RunDir, state: dict[str, Any]) -> None:
    tmp = run_dir.state.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(run_dir.state)


def _state_for(plan: LabPlan, inventory: Path, only: list[str], run_dir: RunDir, trap: configs.TrapSink) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "inventory": str(inventory),
        "only": only,
        "netns": list(plan.netns_names),
        "wire_netns": plan.wire_netns,
        "host_if": plan.mgmt.host_if,
        "host_addr": str(plan.mgmt.host_addr),
        "netns_dir_existed": NETNS_DIR.exists(),
        "links": {w.link: {"ends": [w.a_end, w.b_end], "devices": [w.a_device, w.b_device]} for w in plan.wires},
        "devices": {n.device: {"netns": n.netns, "mgmt": str(n.mgmt), "site": n.site,
                               "lan_ends": [i.wire_end for i in n.interfaces if i.kind == "lan"]} for n in plan.nodes},
        "trap": {"address": trap.address, "port": trap.port},
        "secrets_file": str(run_dir.secrets),
        "ssh_key": str(run_dir.ssh_key),
        "supervisor_pid": None,
        "failed_links": [],
        "failed_devices": [],
        "built_at": time.time(),
    }


def up(inv: Inventory, inventory_path: Path, run_dir: RunDir, only: Iterable[str] = (), trap_port: int = 1162,
       with_lldpd: bool = True, wait_s: float = 60.0, log: Any = print) -> dict[str, Any]:
    """Build the lab and start its daemons; return the state. Cleans up the remains of a crashed lab first."""
    require_root()
    only = list(only)
    plan = build_plan(inv, only, DEFAULT_MGMT_SUBNET)
    if load_state(run_dir) is not None:
        log(f"lab: a previous lab's state is in {run_dir.root}; tearing it down first")
        down(run_dir, log=log)
    elif run_dir.root.exists():
        shutil.rmtree(run_dir.root)
    stray = set(plan.netns_names) & netns.existing_netns()
    if stray:
        raise LabError(f"namespaces {', '.join(sorted(stray))} exist but no lab state says they are ours; "
                       "remove them (ip netns del NAME) and retry")
    clashes = netns.host_route_clashes(plan)
    if clashes:
        raise LabError("the host already routes part of the inventory's address plan, the lab would hijack it: "
                       + "; ".join(clashes[:5]))
    run_dir.root.mkdir(parents=True, mode=0o700)
    values = lab_secrets.generate(inv)
    v2c = lab_secrets.first_of_kind(inv, values, "snmp-v2c")
    trap = configs.TrapSink(str(plan.mgmt.host_addr.ip), trap_port, v2c[1]["community"] if v2c else "wangnet-lab-traps")
    state = _state_for(plan, inventory_path, only, run_dir, trap)
    save_state(run_dir, state)  # before building: a crash from here on is cleaned up by the next up/down

    t0 = time.monotonic()
    try:
        netns.build(plan)
        ssh = lab_secrets.first_of_kind(inv, values, "ssh")
        if ssh is not None:
            prepare_users(run_dir, ssh[1]["username"], ssh[1]["password"])
            values[ssh[0]]["key_file"] = str(run_dir.ssh_key)
        lab_secrets.write(run_dir.secrets, values)
        daemons = prepare_devices(inv, plan, run_dir, values, trap, with_lldpd=with_lldpd)
        (run_dir.root / "daemons.json").write_text(json.dumps(daemons, indent=1))
        log(f"lab: {len(plan.nodes)} devices, {len(plan.wires)} links built in {time.monotonic() - t0:.1f} s; "
            f"starting {len(daemons)} daemons")
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "lab.supervisor", str(run_dir.root)],
            stdin=subprocess.DEVNULL, stdout=open(run_dir.root / "supervisor.log", "ab"), stderr=subprocess.STDOUT,
            start_new_session=True, cwd=str(Path(__file__).resolve().parent.parent),
        )
        state["supervisor_pid"] = supervisor.pid
        save_state(run_dir, state)
        reach = wait_reachable(state, wait_s)
        if reach.silent:
            silent = LabError(f"lab: {len(reach.silent)} devices do not answer ping after {wait_s:.0f} s: "
                              f"{' '.join(reach.silent[:10])}; the lab is left up to look into (logs under "
                              f"{run_dir.root}/dev/, `wangnet lab status`), `wangnet lab down` removes it")
        else:
            log(f"lab: up, all {len(plan.nodes)} devices reachable from the host after {time.monotonic() - t0:.1f} s")
            silent = None
    except BaseException:
        log("lab: bringing the lab up failed; taking down what was built")
        down(run_dir, log=log)
        raise
    if silent is not None:
        raise silent
    return state


def ping_all(addresses: dict[str, str], timeout_s: float = 1.0) -> Reachability:
    """One ICMP echo to every address at once (the routing check; SNMP is the tests' business)."""
    procs = {d: subprocess.Popen(["ping", "-n", "-q", "-c", "1", "-W", str(timeout_s), a],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for d, a in addresses.items()}
    ok = tuple(sorted(d for d, p in procs.items() if p.wait() == 0))
    return Reachability(ok, tuple(sorted(set(addresses) - set(ok))))


def wait_reachable(state: dict[str, Any], wait_s: float) -> Reachability:
    """Wait until every device that should answer does (OSPF takes a few seconds to converge)."""
    expected = expected_reachable(state)
    addresses = {d: state["devices"][d]["mgmt"] for d in expected}
    deadline = time.monotonic() + wait_s
    while True:
        reach = ping_all(addresses)
        if not reach.silent or time.monotonic() > deadline:
            return reach
        time.sleep(0.3)


def expected_reachable(state: dict[str, Any]) -> list[str]:
    """Devices the lab's own failure list leaves connected to the NOC (for waiting; tests use the topology)."""
    failed_links, failed_devices = state["failed_links"], state["failed_devices"]
    if not failed_links and not failed_devices:
        return sorted(state["devices"])
    g = build_graph(load_inventory(state["inventory"]))
    g.remove_nodes_from([n for n in list(g) if n not in state["devices"]])
    gone: set[str] = set(failed_devices)
    for link in failed_links:
        gone.update(impact_of_link(g, link).cut_off_devices)
    for device in failed_devices:
        gone.update(impact_of_device(g, device).cut_off_devices)
    return sorted(set(state["devices"]) - gone)


def down(run_dir: RunDir, log: Any = print) -> list[str]:
    """Stop the daemons, delete namespaces, veths and routes, remove the run directory; return leftovers."""
    require_root()
    state = load_state(run_dir)
    if state is None:
        if run_dir.root.exists():
            shutil.rmtree(run_dir.root)
        log("lab: nothing to take down")
        return []
    pid = state.get("supervisor_pid")
    if pid and pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    problems = netns.teardown(state["netns"], state["host_if"])
    if not state.get("netns_dir_existed", True) and NETNS_DIR.exists() and not any(NETNS_DIR.iterdir()):
        subprocess.run(["umount", str(NETNS_DIR)], capture_output=True)
        try:
            NETNS_DIR.rmdir()
        except OSError:
            pass
    shutil.rmtree(run_dir.root, ignore_errors=True)
    for problem in problems:
        log(f"lab: could not remove: {problem}")
    log("lab: down" if not problems else "lab: down, with leftovers (see above)")
    return problems


def _need_state(run_dir: RunDir) -> dict[str, Any]:
    state = load_state(run_dir)
    if state is None:
        raise LabError(f"no lab is up (no state in {run_dir.root}); start one with `wangnet lab up`")
    return state


def _end_is_up(state: dict[str, Any], link: str) -> bool:
    info = state["links"][link]
    return link not in state["failed_links"] and not set(info["devices"]) & set(state["failed_devices"])


def _apply(state: dict[str, Any], links: Iterable[str], devices: Iterable[str]) -> None:
    """Bring the wire ends of the given links and devices to what the failure lists say."""
    ups, downs = [], []
    touched = set(links) | {l for l, info in state["links"].items() if set(info["devices"]) & set(devices)}
    for link in touched:
        (ups if _end_is_up(state, link) else downs).extend(state["links"][link]["ends"])
    for device in devices:
        lan = state["devices"][device]["lan_ends"]
        (downs if device in state["failed_devices"] else ups).extend(lan)
    netns.set_wire_ends(state["wire_netns"], downs, up=False)
    netns.set_wire_ends(state["wire_netns"], ups, up=True)


def _signal_device(state: dict[str, Any], device: str, sig: signal.Signals) -> None:
    """Freeze (SIGSTOP) or thaw (SIGCONT) everything running in a device: a dead box answers nothing."""
    for pid in netns.netns_pids(state["devices"][device]["netns"]):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def fail(run_dir: RunDir, link: str | None = None, device: str | None = None) -> dict[str, Any]:
    """Cut a link (both ends lose carrier) or kill a device (its cables cut, its processes frozen)."""
    require_root()
    state = _need_state(run_dir)
    if link is not None:
        if link not in state["links"]:
            raise LabError(f'link "{link}" is not in the lab')
        if link not in state["failed_links"]:
            state["failed_links"].append(link)
        _apply(state, [link], [])
    if device is not None:
        if device not in state["devices"]:
            raise LabError(f'device "{device}" is not in the lab')
        if device not in state["failed_devices"]:
            state["failed_devices"].append(device)
        _apply(state, [], [device])
        _signal_device(state, device, signal.SIGSTOP)
    save_state(run_dir, state)
    return state


def heal(run_dir: RunDir, link: str | None = None, device: str | None = None) -> dict[str, Any]:
    """Undo one failure, or every failure when neither is given."""
    require_root()
    state = _need_state(run_dir)
    if link is None and device is None:
        links, devices = list(state["failed_links"]), list(state["failed_devices"])
    else:
        links = [link] if link is not None else []
        devices = [device] if device is not None else []
    for name in links:
        if name not in state["links"]:
            raise LabError(f'link "{name}" is not in the lab')
        if name in state["failed_links"]:
            state["failed_links"].remove(name)
    for name in devices:
        if name not in state["devices"]:
            raise LabError(f'device "{name}" is not in the lab')
        if name in state["failed_devices"]:
            state["failed_devices"].remove(name)
            _signal_device(state, name, signal.SIGCONT)
    _apply(state, links, devices)
    save_state(run_dir, state)
    return state


def status(run_dir: RunDir, check_reachability: bool = True) -> dict[str, Any]:
    """What runs, what is failed, and (optionally) which devices answer ping from the host now."""
    state = _need_state(run_dir)
    sup_pid = state.get("supervisor_pid")
    try:
        daemons = json.loads((run_dir.root / "supervisor.json").read_text())["daemons"]
    except (FileNotFoundError, ValueError, KeyError):
        daemons = {}
    running = sum(1 for d in daemons.values() if d["pid"] and pid_alive(d["pid"]))
    out: dict[str, Any] = {
        "run_dir": str(run_dir.root),
        "supervisor": {"pid": sup_pid, "alive": bool(sup_pid and pid_alive(sup_pid))},
        "devices": len(state["devices"]),
        "links": len(state["links"]),
        "daemons": {"configured": len(daemons), "running": running,
                    "not_running": sorted(n for n, d in daemons.items() if not (d["pid"] and pid_alive(d["pid"])))},
        "failed_links": state["failed_links"],
        "failed_devices": state["failed_devices"],
        "secrets_file": state["secrets_file"],
        "ssh_key": state["ssh_key"],
        "trap": state["trap"],
    }
    if check_reachability:
        reach = ping_all({d: info["mgmt"] for d, info in state["devices"].items()})
        out["reachable"] = len(reach.answering)
        out["unreachable"] = list(reach.silent)
    return out


def exec_in(run_dir: RunDir, device: str, argv: list[str]) -> int:
    """Run a command as part of a device (its namespace, hostname and /run); return its exit code."""
    require_root()
    state = _need_state(run_dir)
    if device not in state["devices"]:
        raise LabError(f'device "{device}" is not in the lab')
    return subprocess.call(wrap(state["devices"][device]["netns"], device, run_dir, argv))
