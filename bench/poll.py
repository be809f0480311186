"""bench/poll: one full SNMP poll of N agents by wangnet, beside net-snmp's snmpbulkwalk and snmp_exporter.

All three poll the same real net-snmp agents (one ``snmpd`` per simulated device
on loopback, the daemon the lab runs in its namespaces) for the same IF-MIB
columns and sysUpTime. Printed: wall time, CPU seconds, values read, CPU per
value, and wangnet's ratios to each reference, from one run.

    .venv/bin/python bench/poll.py [--agents 59] [--rounds 3]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collectors.iftable import COLUMNS, SYS_UPTIME  # noqa: E402
from collectors.snmp import SnmpPoller, SnmpTarget  # noqa: E402
from wangnet.credentials import Secret  # noqa: E402

COMMUNITY = "bench-community"


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_agents(n: int, work: Path) -> tuple[list[subprocess.Popen], list[int]]:
    procs, ports = [], []
    for i in range(n):
        port = free_port(socket.SOCK_DGRAM)
        d = work / f"agent{i}"
        d.mkdir()
        (d / "snmpd.conf").write_text(f"agentAddress udp:127.0.0.1:{port}\nrocommunity {COMMUNITY} 127.0.0.1\n")
        procs.append(
            subprocess.Popen(
                ["snmpd", "-f", "-C", "-c", str(d / "snmpd.conf"), "-Lf", str(d / "log")],
                env={"SNMP_PERSISTENT_DIR": str(d), "PATH": os.environ["PATH"]},
            )
        )
        ports.append(port)
    deadline = time.monotonic() + 60 + n * 0.2
    for port in ports:
        while subprocess.run(
            ["snmpget", "-v2c", "-c", COMMUNITY, "-t", "1", "-r", "0", f"127.0.0.1:{port}", SYS_UPTIME], capture_output=True
        ).returncode:
            if time.monotonic() > deadline:
                raise SystemExit(f"agent on {port} did not start")
            time.sleep(0.1)
    return procs, ports


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def own_cpu() -> float:
    return time.process_time()


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wangnet_rounds(ports: list[int], rounds: int) -> list[tuple[float, float, int]]:
    """Steady state, as the collector service runs: one poller kept across cycles, after one warm-up cycle."""
    poller = SnmpPoller(concurrency=16)
    targets = [SnmpTarget(f"d{i}", "127.0.0.1", p, community=Secret(COMMUNITY), timeout=2.0) for i, p in enumerate(ports)]
    out = []
    try:
        await poller.poll_many(targets)
        for _ in range(rounds):
            cpu0, t0 = own_cpu(), time.perf_counter()
            results = await poller.poll_many(targets)
            wall, cpu = time.perf_counter() - t0, own_cpu() - cpu0
            failed = [r.error for r in results if not r.ok]
            if failed:
                raise SystemExit(f"wangnet poll failed: {failed[:3]}")
            out.append((wall, cpu, sum(1 + len(r.interfaces) * len(COLUMNS) for r in results)))
    finally:
        poller.close()
    return out


def bulkwalk_round(ports: list[int]) -> tuple[float, float, int]:
    jobs = [(p, oid) for p in ports for oid in COLUMNS.values()]

    def walk(job: tuple[int, str]) -> int:
        port, oid = job
        out = subprocess.run(
            ["snmpbulkwalk", "-v2c", "-c", COMMUNITY, "-On", "-Cr25", f"127.0.0.1:{port}", oid], capture_output=True, text=True
        ).stdout
        return out.count("\n")

    def uptime(port: int) -> int:
        subprocess.run(["snmpget", "-v2c", "-c", COMMUNITY, "-On", f"127.0.0.1:{port}", SYS_UPTIME], capture_output=True)
        return 1

    cpu0, t0 = children_cpu(), time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        values = sum(pool.map(walk, jobs)) + sum(pool.map(uptime, ports))
    return time.perf_counter() - t0, children_cpu() - cpu0, values


def exporter_config(path: Path) -> None:
    metrics = [{"name": "sysUpTime", "oid": "1.3.6.1.2.1.1.3", "type": "gauge"}]
    for name, oid in COLUMNS.items():
        kind = "DisplayString" if name == "name" else ("counter" if "octets" in name or "ucast" in name or "errors" in name or "discards" in name else "gauge")
        metrics.append({"name": f"if_{name}", "oid": oid, "type": kind, "indexes": [{"labelname": "ifIndex", "type": "gauge"}]})
    module = {
        "walk": list(COLUMNS.values()),
        "get": [SYS_UPTIME],
        "version": 2,
        "max_repetitions": 25,
        "retries": 1,
        "timeout": "2s",
        "auth": {"community": COMMUNITY},
        "metrics": metrics,
    }
    path.write_text(json.dumps({"wangnet": module}))  # JSON is YAML


def exporter_round(exporter_pid: int, port: int, ports: list[int]) -> tuple[float, float, int]:
    def scrape(agent_port: int) -> int:
        url = f"http://127.0.0.1:{port}/snmp?module=wangnet&target=127.0.0.1:{agent_port}"
        with urllib.request.urlopen(url, timeout=30) as response:
            text = response.read().decode()
        return sum(1 for line in text.splitlines() if line.startswith(("if_", "sysUpTime")))

    cpu0, t0 = proc_cpu(exporter_pid), time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        values = sum(pool.map(scrape, ports))
    return time.perf_counter() - t0, proc_cpu(exporter_pid) - cpu0, values


def best(rounds: list[tuple[float, float, int]]) -> tuple[float, float, int]:
    return min(rounds, key=lambda r: r[0])


def line(name: str, r: tuple[float, float, int]) -> str:
    wall, cpu, values = r
    return f"{name:<28} wall {wall * 1000:8.1f} ms   cpu {cpu * 1000:8.1f} ms   values {values:6d}   cpu/value {cpu / values * 1e6:7.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=59)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-bulkwalk", action="store_true",
                        help="skip snmpbulkwalk (a process per column per agent: minutes at 1,000 agents)")
    args = parser.parse_args()
    for tool in ("snmpd", "snmpbulkwalk", "prometheus-snmp-exporter"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: run `make setup` as root")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        procs, ports = start_agents(args.agents, work)
        exporter_port = free_port(socket.SOCK_STREAM)
        exporter_config(work / "snmp.yml")
        exporter = subprocess.Popen(
            ["prometheus-snmp-exporter", f"--config.file={work / 'snmp.yml'}", f"--web.listen-address=127.0.0.1:{exporter_port}"],
            stdout=subprocess.DEVNULL, stderr=open(work / "exporter.log", "wb"),
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", exporter_port), timeout=1).close()
                    break
                except OSError:
                    if exporter.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("snmp_exporter did not start: " + (work / "exporter.log").read_text()[-1000:])
                    time.sleep(0.1)
            ours = best(asyncio.run(wangnet_rounds(ports, args.rounds)))
            walk = None if args.no_bulkwalk else best([bulkwalk_round(ports) for _ in range(args.rounds)])
            exp = best([exporter_round(exporter.pid, exporter_port, ports) for _ in range(args.rounds)])
        finally:
            exporter.terminate()
            for p in procs:
                p.terminate()
            for p in procs + [exporter]:
                p.wait(10)
    print(f"bench/poll: {args.agents} net-snmp agents on loopback, {len(COLUMNS)} IF-MIB columns + sysUpTime, best of {args.rounds}")
    print(line("wangnet (asyncio, lean v2c)", ours))
    if walk is not None:
        print(line("snmpbulkwalk (net-snmp)", walk))
    print(line("snmp_exporter 0.21", exp))
    per_value = lambda r: r[1] / r[2]  # noqa: E731
    versus = f"wangnet vs snmp_exporter: wall {ours[0] / exp[0]:.2f}x, cpu/value {per_value(ours) / per_value(exp):.2f}x"
    if walk is not None:
        versus += f" | vs snmpbulkwalk: wall {ours[0] / walk[0]:.2f}x, cpu/value {per_value(ours) / per_value(walk):.2f}x"
    print(versus)


if __name__ == "__main__":
    main()
