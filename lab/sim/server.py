"""The simulation process: every inventory device as an SNMPv2c agent on 127.0.0.1.

Started detached by ``wangnet sim up`` as ``python -m lab.sim.server SIM_DIR
INVENTORY PORT_BASE``. It writes where each device listens to
``SIM_DIR/state.json`` once all ports are bound, and follows
``SIM_DIR/failures.json`` (written by ``wangnet sim fail/heal``) a few times a
second: ports of failed links go down at both ends, devices the graph cuts off
from the city core stop answering.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

from ruamel.yaml import YAML

from lab.sim.agent import DeviceAgent
from lab.sim.mib import build_view
from lab.sim.model import apply_failures, build_devices, reachable
from topology.graph import build_graph
from topology.loader import load_inventory

CREDENTIAL_ID = "sim-v2c"
WATCH_INTERVAL_S = 0.2
log = logging.getLogger("wangnet.sim")


def read_failures(path: Path) -> tuple[set[str], set[str]]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return set(), set()
    return set(data.get("links", [])), set(data.get("devices", []))


async def serve(sim_dir: Path, inventory: Path, port_base: int) -> None:
    inv = load_inventory(inventory)
    g = build_graph(inv)
    devices = build_devices(inv)
    community = YAML(typ="safe").load((sim_dir / "secrets.yaml").read_text())[CREDENTIAL_ID]["community"].encode()
    started = time.monotonic()

    def clock() -> float:
        return time.monotonic() - started

    answering: set[str] = set(devices)
    loop = asyncio.get_running_loop()
    endpoints = {}
    transports = []
    for n, dev in enumerate(inv.devices):
        port = port_base + n if port_base else 0
        transport, _ = await loop.create_datagram_endpoint(
            lambda d=dev.id: DeviceAgent(d, community, build_view(devices[d]), clock, answering.__contains__),
            local_addr=("127.0.0.1", port),
        )
        transports.append(transport)
        endpoints[dev.id] = {"address": "127.0.0.1", "port": transport.get_extra_info("sockname")[1]}
    state = {"pid": os.getpid(), "inventory": str(inventory), "credential": CREDENTIAL_ID, "devices": endpoints,
             "started_at": time.time()}
    tmp = sim_dir / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(sim_dir / "state.json")
    log.info("simulating %d devices on 127.0.0.1", len(endpoints))

    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    failures_path = sim_dir / "failures.json"
    seen_mtime: float | None = None
    while not stop.is_set():
        try:
            mtime = failures_path.stat().st_mtime_ns
        except FileNotFoundError:
            mtime = 0
        if mtime != seen_mtime:
            seen_mtime = mtime
            links, failed_devices = read_failures(failures_path)
            apply_failures(devices, links, failed_devices, clock())
            now_answering = reachable(g, links, failed_devices)
            answering.clear()
            answering.update(now_answering)
            log.info("failures: links %s devices %s; %d devices answer", sorted(links), sorted(failed_devices),
                     len(answering))
        try:
            await asyncio.wait_for(stop.wait(), WATCH_INTERVAL_S)
        except asyncio.TimeoutError:
            pass
    for transport in transports:
        transport.close()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sim_dir, inventory, port_base = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    asyncio.run(serve(sim_dir, inventory, port_base))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
