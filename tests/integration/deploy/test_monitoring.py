"""deploy/prometheus: the shipped Prometheus and Alertmanager configs, checked by their own tools and run for real.

The end-to-end test renders the shipped files (a test copy with 1 s intervals and grouping waits), runs a
REAL Prometheus and a REAL Alertmanager on free loopback ports, ``wangnet collector`` polling the root lab
with its exporter listed in a file_sd target list, and a webhook receiver in this process; then fails the
city–dalad uplink in the lab: wangnet's rule WangnetRootCauseCritical (``for: 0m`` as shipped) must fire in
Prometheus and reach the webhook through Alertmanager, and resolve after the heal.
"""
from __future__ import annotations

import io
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from ruamel.yaml import YAML

from wangnet.config import PROJECT_ROOT
from wangnet.deploy_templates import placeholders, render_file

DEPLOY = PROJECT_ROOT / "deploy" / "prometheus"
RULES = PROJECT_ROOT / "collectors" / "prometheus" / "wangnet-rules.yml"
UPLINK = "city-core-1--dalad-rt"
ALERT = "WangnetRootCauseCritical"


def need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        if os.geteuid() == 0:
            pytest.fail(f"{binary} missing although running as root: `make setup` installs Debian's package")
        pytest.skip(f"{binary} not installed (Debian packages prometheus, prometheus-alertmanager; `make setup` as root)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render_prometheus(out: Path, targets: Path, alertmanager: str) -> Path:
    render_file(DEPLOY / "prometheus.yml", {"RULES_FILE": RULES, "TARGETS_DIR": targets, "ALERTMANAGER": alertmanager},
                out=out)
    return out


def render_alertmanager(out: Path, webhook: str) -> Path:
    render_file(DEPLOY / "alertmanager.yml", {"WEBHOOK_URL": webhook}, out=out)
    return out


def edit_yaml(path: Path, change: Callable[[Any], None]) -> None:
    """The test copy: the shipped file with its timings shortened (a round trip through YAML, nothing else)."""
    yaml = YAML(typ="safe")
    data = yaml.load(path.read_text())
    change(data)
    buf = io.StringIO()
    yaml.dump(data, buf)
    path.write_text(buf.getvalue())


# ---------------------------------------------------------------- the tools' own checks
def test_templates_ask_only_for_site_values():
    assert placeholders((DEPLOY / "prometheus.yml").read_text()) == {"RULES_FILE", "TARGETS_DIR", "ALERTMANAGER"}
    assert placeholders((DEPLOY / "alertmanager.yml").read_text()) == {"WEBHOOK_URL"}


def test_promtool_accepts_the_shipped_prometheus_config_with_the_rules_and_example_targets(tmp_path):
    promtool = need("promtool")
    config = render_prometheus(tmp_path / "prometheus.yml", DEPLOY / "targets", "127.0.0.1:9093")
    done = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 6 rules found" in done.stdout + done.stderr
    example = YAML(typ="safe").load((DEPLOY / "targets" / "wangnet.example.yml").read_text())
    kinds = {group["labels"]["process"] for group in example}
    assert kinds == {"web", "collector", "sip", "bridge", "vod-worker"}  # every kind of wangnet process


def test_amtool_accepts_the_shipped_alertmanager_config(tmp_path):
    amtool = need("amtool")
    config = render_alertmanager(tmp_path / "alertmanager.yml", "https://duty.example.gov.cn/hooks/wangnet")
    done = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_a_bad_value_is_refused_by_the_tools(tmp_path):
    """The checks can fail: a webhook that is no URL is caught by amtool."""
    amtool = need("amtool")
    config = render_alertmanager(tmp_path / "alertmanager.yml", "not a url")
    done = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True)
    assert done.returncode != 0


# ---------------------------------------------------------------- real servers against the lab
class Webhook:
    """Alertmanager's webhook receiver: every POSTed notification, in order."""

    def __init__(self) -> None:
        self.received: "queue.Queue[dict[str, Any]]" = queue.Queue()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.put(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, alertname: str, status: str, deadline_s: float) -> dict[str, Any]:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            try:
                note = self.received.get(timeout=1)
            except queue.Empty:
                continue
            for alert in note.get("alerts", []):
                if alert["labels"].get("alertname") == alertname and alert["status"] == status:
                    return note
        raise AssertionError(f"no {status} {alertname} notification reached the webhook in {deadline_s:.0f} s")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def wait_until(what: str, check: Callable[[], Any], deadline_s: float, alive: Callable[[], None]) -> Any:
    end = time.monotonic() + deadline_s
    last: Any = None
    while time.monotonic() < end:
        alive()
        try:
            last = check()
        except OSError as exc:  # not listening yet
            last = exc
        else:
            if last:
                return last
        time.sleep(1)
    raise AssertionError(f"{what}: not within {deadline_s:.0f} s (last answer: {last!r})")


def start(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(log, "wb"), env=env, cwd=PROJECT_ROOT)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def monitoring(lab, tmp_path) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Collector (against the lab) → Prometheus → Alertmanager → webhook, all real, on free loopback ports."""
    prometheus, alertmanager = need("prometheus"), need("prometheus-alertmanager")
    webhook = Webhook()
    procs: dict[str, tuple[subprocess.Popen, Path]] = {}

    def alive() -> None:
        for name, (proc, log) in procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")

    try:
        # the collector, as `wangnet collector` runs in a deployment, with its exporter on a free port
        metrics_port, am_port, prom_port = free_port(), free_port(), free_port()
        trap = lab.state["trap"]
        env = {**os.environ, "WANGNET_VAR_DIR": str(tmp_path / "var"), "WANGNET_INVENTORY": str(PROJECT_ROOT / "inventory.yaml"),
               "WANGNET_DEVICE_MODE": "lab", "WANGNET_SECRETS_FILE": str(lab.state["secrets_file"]),
               "WANGNET_METRICS_HOST": "127.0.0.1", "WANGNET_METRICS_PORT": str(metrics_port),
               "WANGNET_TRAP_HOST": str(trap["address"]), "WANGNET_TRAP_PORT": str(trap["port"]),
               "WANGNET_SMTP_HOST": "", "WANGNET_SMS_URL": ""}
        log = tmp_path / "collector.log"
        procs["wangnet collector"] = (start([str(Path(sys.executable).with_name("wangnet")), "collector", "--interval", "5"],
                                            log, env), log)

        targets = tmp_path / "targets"
        targets.mkdir()
        (targets / "this-host.yml").write_text(
            f"- targets: ['127.0.0.1:{metrics_port}']\n  labels: {{process: collector, banner: all}}\n")

        am_config = render_alertmanager(tmp_path / "alertmanager.yml", webhook.url)

        def quick_alertmanager(data: Any) -> None:
            for route in [data["route"], *data["route"].get("routes", [])]:
                route.update({"group_wait": "1s", "group_interval": "1s"})

        edit_yaml(am_config, quick_alertmanager)
        log = tmp_path / "alertmanager.log"
        procs["alertmanager"] = (start([alertmanager, f"--config.file={am_config}", f"--storage.path={tmp_path / 'am'}",
                                        f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
                                       log), log)

        prom_config = render_prometheus(tmp_path / "prometheus.yml", targets, f"127.0.0.1:{am_port}")

        def quick_prometheus(data: Any) -> None:
            data["global"].update({"scrape_interval": "1s", "evaluation_interval": "1s"})
            data["scrape_configs"] = [job for job in data["scrape_configs"] if job["job_name"] == "wangnet"]
            data["scrape_configs"][0]["file_sd_configs"][0]["refresh_interval"] = "1s"

        edit_yaml(prom_config, quick_prometheus)
        log = tmp_path / "prometheus.log"
        procs["prometheus"] = (start([prometheus, f"--config.file={prom_config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                      f"--web.listen-address=127.0.0.1:{prom_port}"], log), log)
        yield {"prometheus": f"http://127.0.0.1:{prom_port}", "alertmanager": f"http://127.0.0.1:{am_port}",
               "webhook": webhook, "alive": alive}
    finally:
        for proc, _ in procs.values():
            stop(proc)
        webhook.close()


def query(base: str, promql: str) -> list[dict[str, Any]]:
    return get_json(f"{base}/api/v1/query?query={urllib.request.quote(promql)}")["data"]["result"]


def firing(base: str, name: str) -> list[dict[str, Any]]:
    return [a for a in get_json(f"{base}/api/v1/alerts")["data"]["alerts"]
            if a["labels"]["alertname"] == name and a["state"] == "firing"]


def test_a_lab_uplink_failure_fires_in_prometheus_and_reaches_the_webhook(lab, monitoring):
    prom, alive, webhook = monitoring["prometheus"], monitoring["alive"], monitoring["webhook"]
    # the collector's exporter is scraped (the file_sd target list) and its first poll of the lab is in
    up = wait_until("Prometheus scrapes the collector",
                    lambda: query(prom, 'up{job="wangnet",process="collector"} == 1'), 120, alive)
    assert up[0]["metric"]["instance"].startswith("collector@127.0.0.1:")
    wait_until("a full poll of the lab", lambda: query(prom, "wangnet_poll_cycle_seconds"), 180, alive)
    wait_until("root causes exported", lambda: query(prom, "wangnet_root_causes"), 60, alive)
    assert query(prom, 'wangnet_root_causes{severity="critical"} > 0') == []
    assert firing(prom, ALERT) == []

    started = time.monotonic()
    lab.fail(UPLINK)
    try:
        alert = wait_until(f"{ALERT} firing in Prometheus", lambda: firing(prom, ALERT), 180, alive)[0]
        fired = time.monotonic() - started
        assert alert["labels"]["severity"] == "critical"
        note = webhook.wait_for(ALERT, "firing", 120)
        delivered = time.monotonic() - started
        assert note["receiver"] == "wangnet-webhook" and note["groupLabels"] == {"alertname": ALERT, "severity": "critical"}
        assert note["commonAnnotations"]["summary"].endswith("failure(s) cut sites off from the city core")
        print(f"uplink failed → firing in Prometheus after {fired:.1f} s, at the webhook after {delivered:.1f} s")
        assert firing(prom, ALERT), "the alert resolved although the uplink is still down"
        assert webhook.received.empty(), "a notification came while the uplink was down: the alert flapped"
    finally:
        healing = time.monotonic()
        lab.heal()
    note = webhook.wait_for(ALERT, "resolved", 240)
    print(f"heal started → resolved at the webhook after {time.monotonic() - healing:.1f} s")
    assert note["status"] == "resolved"
