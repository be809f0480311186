"""With a Prometheus URL configured, the traffic API reads Prometheus' query_range (a real Prometheus), else falls back."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily

from tests.conftest import SAMPLE_INVENTORY, login
from wangnet.config import load_settings

BYTES_PER_S = 1_250_000  # 10 Mbit/s in
STARTED = time.time()


class Uplink:
    """The exporter's counters of one interface, rising at known rates (in 10 Mbit/s, out 2 Mbit/s)."""

    def collect(self):  # type: ignore[no-untyped-def]
        elapsed = time.time() - STARTED
        for way, rate in (("in", BYTES_PER_S), ("out", BYTES_PER_S / 5)):
            family = CounterMetricFamily(f"wangnet_if_{way}_octets", "octets", labels=["device", "site", "tier", "ifname"])
            family.add_metric(["dalad-rt", "dalad", "banner", "GE1-0-1"], 1e9 + rate * elapsed)
            yield family


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def prometheus(tmp_path):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (`make setup` as root installs Debian's prometheus)")
    registry = CollectorRegistry()
    registry.register(Uplink())
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: wangnet\n"
                      f"    static_configs: [{{targets: ['127.0.0.1:{server.server_port}']}}]\n")
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:  # until a rate can be computed: at least two scrapes stored
            try:
                q = urllib.request.quote('rate(wangnet_if_in_octets_total[1m])')
                # evaluated a whole second back: the app asks query_range up to int(now), which may be a fraction
                # of a second before "now" — before the second scrape if the rate were only just computable
                at = int(time.time()) - 1
                with urllib.request.urlopen(f"{url}/api/v1/query?query={q}&time={at}", timeout=5) as resp:
                    if json.load(resp)["data"]["result"]:
                        break
            except OSError:
                pass
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "Prometheus never had two samples"
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
        server.shutdown()


def app_with(tmp_path, store, prometheus_url):  # type: ignore[no-untyped-def]
    from web.app import create_app

    settings = load_settings(environ={}, var_dir=tmp_path / "var", inventory_path=SAMPLE_INVENTORY, secret_key="k",
                             login_rate_limit="1000 per minute", prometheus_url=prometheus_url)
    app = create_app(settings, store=store)
    app.config.update(TESTING=True)
    return app


def test_traffic_comes_from_prometheus_query_range(prometheus, tmp_path, store, make_user):
    client = app_with(tmp_path, store, prometheus).test_client()
    login(client, make_user("noc"))
    data = client.get("/api/v1/devices/dalad-rt/interfaces/GE1-0-1/traffic?range=hour").get_json()
    assert data["source"] == "prometheus" and data["warning"] is None and data["resolution"] == 30
    values = [(i, o) for i, o in zip(data["points"]["in_bps"], data["points"]["out_bps"]) if i is not None]
    assert values, data
    last_in, last_out = values[-1]
    # a series seconds old fills only part of rate()'s window, which Prometheus divides by the whole window: the
    # level is low until the window fills, but in and out are scaled alike, and never above the true rate
    assert last_in / last_out == pytest.approx(5, rel=0.02)
    assert 0 < last_in <= 8 * BYTES_PER_S * 1.05


def test_an_unreachable_prometheus_falls_back_to_the_store_with_a_warning(tmp_path, store, make_user):
    client = app_with(tmp_path, store, f"http://127.0.0.1:{free_port()}").test_client()
    login(client, make_user("noc"))
    data = client.get("/api/v1/devices/dalad-rt/interfaces/GE1-0-1/traffic?range=day").get_json()
    assert data["source"] == "store" and data["warning"].startswith("Prometheus: http://127.0.0.1:")
    assert "showing the store's samples" in data["warning"]
