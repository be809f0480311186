"""Benchmark: bring the 59-site lab up and down, and what it costs in memory; the simulation beside it.

Run as root: ``.venv/bin/python bench/lab.py``. Prints

* lab up (namespaces, veths, addresses, shaping, host routes; then daemons
  started and every device answering ping through OSPF) and lab down, beside
  the same number of bare ``ip netns add`` + veth pairs made and removed with
  ``ip -batch`` (the floor for the plumbing alone);
* the PSS and RSS sum of every lab process, per daemon kind, beside DESIGN.md's
  per-agent figures (snmpd ~3.3 MB, BIRD ~1.6 MB);
* ``wangnet sim``: start time and PSS of its one process for all 69 agents,
  beside DESIGN.md's snmpsim figure (trimmed recordings start in ~4 s).
Without root only the simulation is measured.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lab import control  # noqa: E402
from lab.daemons import RunDir  # noqa: E402
from lab.netns import netns_pids  # noqa: E402
from lab.plan import build_plan  # noqa: E402
from lab.sim import control as sim_control  # noqa: E402
from topology.loader import load_inventory  # noqa: E402

INVENTORY = ROOT / "inventory.yaml"
DESIGN_MB = {"snmpd": 3.3, "bird": 1.6}


def memory_kb(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of one process in kB, from smaps_rollup."""
    pss = rss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
            elif line.startswith("Rss:"):
                rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def bare_reference(n_netns: int, n_veth: int) -> tuple[float, float]:
    """Seconds to create and to delete n namespaces and n veth pairs between them with ip -batch, nothing else."""
    names = [f"wnbench{i}" for i in range(n_netns)]
    add = [f"netns add {n}" for n in names]
    add += [f"link add v{i} netns {names[i % n_netns]} type veth peer name p{i} netns {names[(i + 1) % n_netns]}"
            for i in range(n_veth)]
    t = time.monotonic()
    subprocess.run(["ip", "-batch", "-"], input="\n".join(add) + "\n", text=True, check=True)
    t_up = time.monotonic() - t
    t = time.monotonic()
    subprocess.run(["ip", "-batch", "-"], input="".join(f"netns del {n}\n" for n in names), text=True, check=True)
    return t_up, time.monotonic() - t


def bench_lab() -> None:
    inv = load_inventory(INVENTORY)
    plan = build_plan(inv)
    n_veth = sum(len(n.interfaces) for n in plan.nodes) + 1
    run_dir = RunDir(ROOT / "var" / "bench-lab")
    t = time.monotonic()
    state = control.up(inv, INVENTORY, run_dir, log=lambda msg: None)
    t_up = time.monotonic() - t
    try:
        pids = {p for ns in state["netns"] for p in netns_pids(ns)}
        pids.add(state["supervisor_pid"])
        by_kind: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for pid in pids:
            by_kind[comm(pid)].append(memory_kb(pid))
    finally:
        t = time.monotonic()
        control.down(run_dir, log=lambda msg: None)
        t_down = time.monotonic() - t
    ref_up, ref_down = bare_reference(len(plan.netns_names), n_veth)
    print(f"lab: {len(plan.nodes)} devices ({len(plan.netns_names)} namespaces), {len(plan.wires)} links, {n_veth} veth pairs")
    print(f"  up    {t_up:6.1f} s   (build + {sum(len(v) for v in by_kind.values())} processes + OSPF until every device answers ping)")
    print(f"  down  {t_down:6.1f} s")
    print(f"  reference, bare ip netns add + veth pairs with ip -batch: up {ref_up:.2f} s, down {ref_down:.2f} s "
          f"(lab/bare: up {t_up / ref_up:.0f}x, down {t_down / ref_down:.0f}x)")
    total_pss = sum(p for v in by_kind.values() for p, _ in v)
    total_rss = sum(r for v in by_kind.values() for _, r in v)
    print(f"  memory: PSS {total_pss / 1024:.0f} MB, RSS {total_rss / 1024:.0f} MB over {len(pids)} processes")
    for kind, values in sorted(by_kind.items(), key=lambda kv: -sum(p for p, _ in kv[1])):
        pss = sum(p for p, _ in values) / 1024
        ref = f"   DESIGN.md: ~{DESIGN_MB[kind]} MB each" if kind in DESIGN_MB else ""
        print(f"    {kind:10} x{len(values):3}  PSS {pss:6.1f} MB  ({pss / len(values):.2f} MB each){ref}")


def bench_sim() -> None:
    var = Path(tempfile.mkdtemp(prefix="wangnet-bench-sim-"))
    try:
        t = time.monotonic()
        state = sim_control.up(var, INVENTORY, 0)
        t_up = time.monotonic() - t
        pss, rss = memory_kb(int(state["pid"]))
        community = (var / "sim" / "secrets.yaml").read_text().split("community: ")[1].split("}")[0].strip()
        t = time.monotonic()
        procs = [subprocess.Popen(["snmpbulkwalk", "-v2c", "-c", community, "-t", "2", "-r", "1", f"udp:127.0.0.1:{ep['port']}",
                                  "1.3.6.1.2.1.31.1.1.1"], stdout=subprocess.DEVNULL) for ep in state["devices"].values()]
        ok = sum(p.wait() == 0 for p in procs)
        t_walk = time.monotonic() - t
        print(f"sim: {len(state['devices'])} agents in one process")
        print(f"  start {t_up:6.2f} s   (reference, DESIGN.md: snmpsim 1.2 with trimmed recordings ~4 s, full ones ~10 min)")
        print(f"  memory PSS {pss / 1024:.1f} MB, RSS {rss / 1024:.1f} MB for all agents "
              f"(reference: {len(state['devices'])} x snmpd at 3.3 MB = {len(state['devices']) * 3.3:.0f} MB)")
        print(f"  ifXTable bulkwalk of every agent at once: {ok}/{len(procs)} in {t_walk:.2f} s")
    finally:
        sim_control.down(var)
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    if os.geteuid() == 0:
        bench_lab()
    else:
        print("lab: not measured (needs root)")
    bench_sim()
