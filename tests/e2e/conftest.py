"""A real server (``wangnet serve`` in a subprocess) and a real browser (Debian's headless Chromium)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wangnet.config import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"wangnet serve exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"wangnet serve did not listen on {port}")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        if os.geteuid() == 0:
            pytest.fail(f"{CHROMIUM} missing although running as root: `make setup` should have installed it")
        pytest.skip(f"{CHROMIUM} not installed and not root (run `make setup` as root to install Debian's chromium)")
    return CHROMIUM


@pytest.fixture(scope="package")  # stopped once the e2e tests are done, not at the end of the whole run
def server(tmp_path_factory):  # type: ignore[no-untyped-def]
    """``wangnet serve`` on a free loopback port with its own var dir and one user per role."""
    var = tmp_path_factory.mktemp("e2e-var")
    env = {**os.environ, "WANGNET_VAR_DIR": str(var), "WANGNET_INVENTORY": str(PROJECT_ROOT / "inventory.yaml"),
           "WANGNET_SIP_PORT": "0",  # serve hosts the SIP service: a free port, never 5060
           "WANGNET_METRICS_PORT": "0", "WANGNET_COLLECTOR_INTERVAL": "0"}  # no exporter port, no polling here
    wangnet = str(Path(sys.executable).with_name("wangnet"))
    pw_file = var / "pw"
    pw_file.write_text("e2e password 123\n")
    subprocess.run([wangnet, "user", "add", "noc1", "--role", "noc", "--password-file", str(pw_file)], env=env, check=True)
    port = _free_port()
    log = open(var / "serve.log", "wb")
    proc = subprocess.Popen([wangnet, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc, time.monotonic() + 60)
        yield {"url": f"http://127.0.0.1:{port}", "user": "noc1", "password": "e2e password 123", "log": var / "serve.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="package")
def sim(tmp_path_factory):  # type: ignore[no-untyped-def]
    """One simulation for the e2e modules that watch it (live map, device traffic); each heals what it fails.
    Package scope: it and ``live_server`` (polling it every 2 s) stop when the e2e tests are done."""
    from tests.lab_fixtures import running_sim

    with running_sim(tmp_path_factory) as handle:
        yield handle


@pytest.fixture(scope="package")
def live_server(sim):  # type: ignore[no-untyped-def]
    """``wangnet serve`` polling the simulation every 2 s, sharing its var dir (one for the e2e tests)."""
    env = {**os.environ, "WANGNET_VAR_DIR": str(sim.var_dir), "WANGNET_INVENTORY": str(PROJECT_ROOT / "inventory.yaml"),
           "WANGNET_DEVICE_MODE": "sim", "WANGNET_COLLECTOR_INTERVAL": "2", "WANGNET_SIP_PORT": "0",
           "WANGNET_METRICS_PORT": "0"}
    wangnet = str(Path(sys.executable).with_name("wangnet"))
    pw = sim.var_dir / "pw"
    pw.write_text("live password 123\n")
    subprocess.run([wangnet, "user", "add", "noc-live", "--role", "noc", "--password-file", str(pw)], env=env, check=True)
    port = _free_port()
    log = open(sim.var_dir / "serve.log", "wb")
    proc = subprocess.Popen([wangnet, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc, time.monotonic() + 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def page(chromium_path, tmp_path):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        context.set_default_timeout(30_000)
        pg = context.new_page()
        try:
            yield pg
        finally:
            context.close()
            browser.close()
