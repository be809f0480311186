"""Metrics: the rules pass promtool, and a real Prometheus scrapes wangnet and answers a query."""
from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest
from prometheus_client import generate_latest

from collectors.metrics import CollectorMetrics
from collectors.service import Collector
from collectors.targets import Endpoint, build_targets
from topology import load_inventory
from wangnet import metrics
from wangnet.config import PROJECT_ROOT
from wangnet.credentials import CredentialResolver

RULES = PROJECT_ROOT / "collectors" / "prometheus" / "wangnet-rules.yml"
SMALL = PROJECT_ROOT / "tests" / "fixtures" / "inventory" / "valid.yaml"


def need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed (`make setup` as root installs Debian's prometheus)")
    return path


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_alert_rules_pass_promtool():
    result = subprocess.run([need("promtool"), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout


@pytest.fixture
def polled_collector(snmpd_agent, store):
    inventory = load_inventory(SMALL)
    resolver = CredentialResolver({"WANGNET_CRED_SNMP_RO_COMMUNITY": snmpd_agent.community})
    # all three devices answer from the same agent: enough to have real counters to export
    collector = Collector(
        inventory, store,
        lambda: build_targets(inventory, lambda d: Endpoint("127.0.0.1", snmpd_agent.port), resolver, 2.0, 1),
    )
    async def one_cycle():
        try:
            await collector.cycle()
        finally:
            collector.close()  # the SNMP engine belongs to this loop

    asyncio.run(one_cycle())
    return inventory, collector


def test_exported_counters_and_states(polled_collector):
    inventory, collector = polled_collector
    exported = CollectorMetrics(inventory, lambda: collector.last_report, lambda: collector.failures)
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    registry.register(exported)
    text = generate_latest(registry).decode()
    assert 'wangnet_if_in_octets_total{device="dalad-rt",ifname="lo",site="dalad",tier="banner"}' in text
    assert 'wangnet_device_up{device="shulinzhao-rt",site="shulinzhao",tier="township"} 1.0' in text
    assert "wangnet_poll_cycle_seconds " in text


def test_a_real_prometheus_scrapes_wangnet(polled_collector, tmp_path):
    prometheus = need("prometheus")
    inventory, collector = polled_collector
    exported = CollectorMetrics(inventory, lambda: collector.last_report, lambda: collector.failures)
    metrics.register(exported)
    server, _ = metrics.serve("127.0.0.1", 0)
    prom_port = free_tcp_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{RULES}']\n"
        "scrape_configs:\n"
        "  - job_name: wangnet\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{server.server_port}']}}]\n"
    )
    proc = subprocess.Popen(
        [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prometheus.log", "wb"),
    )
    try:
        deadline = time.monotonic() + 90
        answer = None
        while time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{prom_port}/api/v1/query?query=wangnet_device_up"
                with urllib.request.urlopen(url, timeout=5) as response:
                    body = json.load(response)
                if body["data"]["result"]:
                    answer = body["data"]["result"]
                    break
            except OSError:
                pass
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
            time.sleep(0.5)
        assert answer is not None, "Prometheus never had a wangnet sample"
        assert {r["metric"]["device"] for r in answer} == {"city-core-1", "dalad-rt", "shulinzhao-rt"}
    finally:
        proc.terminate()
        proc.wait(20)
        server.shutdown()
        metrics.unregister(exported)
