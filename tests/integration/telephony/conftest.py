"""Real SIP clients (sipp, baresip, linphonec) against the SIP service hosted by the real runtime.

The service listens on a free loopback port (never 5060); phones are created
directly in the store with their HA1s, as the registry would.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from telephony.digest import ha1
from telephony.models import Phone
from telephony.service import SipService
from wangnet.config import Settings
from wangnet.runtime import Runtime
from wangnet.store import Store

SIPP_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "sip" / "sipp"
REALM = "wangnet.ordos"


def require_binary(name: str) -> str:
    """Path of a Debian binary the test needs; fail as root (CI installs it), skip otherwise."""
    path = shutil.which(name)
    if path is None:
        if os.geteuid() == 0:
            pytest.fail(f"{name} missing although running as root: `make setup` should have installed it")
        pytest.skip(f"{name} not installed and not root (run `make setup` as root)")
    return path


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A loopback port free for both UDP and TCP at the time of asking."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                t.bind(("127.0.0.1", port))
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def add_phone(store: Store, extension: str, password: str, site_id: str) -> None:
    with store.session() as s:
        s.add(Phone(extension=extension, site_id=site_id, realm=REALM, display_name=f"Desk {extension}",
                    ha1_md5=ha1(extension, REALM, password), ha1_sha256=ha1(extension, REALM, password, "SHA-256")))


@dataclass
class SipHarness:
    settings: Settings
    store: Store
    runtime: Runtime
    service: SipService

    @property
    def port(self) -> int:
        return self.service.port

    def call(self, fn: Callable[[], object]) -> object:
        """Run ``fn`` on the service's loop (its tables are only touched there)."""
        async def run() -> object:
            return fn()
        return self.runtime.call(run())

    def bindings(self, extension: str) -> list:
        return self.call(lambda: self.service.location.current(extension, time.time()))  # type: ignore[return-value]

    def flush(self) -> None:
        self.runtime.call(self.service.flush())

    def sipp_command(self, scenario: str, extension: str, password: str, *, local_port: int | None = None,
                     transport: str = "u1", expires: int = 3600, timeout: int = 20, extra: tuple[str, ...] = ()) -> list[str]:
        sipp = require_binary("sipp")
        return [
            sipp, f"127.0.0.1:{self.port}", "-sf", str(SIPP_DIR / scenario), "-m", "1", "-t", transport,
            "-i", "127.0.0.1", "-p", str(local_port or free_port()), "-s", extension,
            "-au", extension, "-ap", password, "-key", "domain", REALM, "-key", "expires", str(expires),
            "-timeout", f"{timeout}s", "-timeout_error", "-trace_err", "-trace_logs", "-nostdin", *extra,
        ]

    def workdir(self) -> Path:
        work = Path(self.settings.var_dir) / "sipp"
        work.mkdir(parents=True, exist_ok=True)
        return work

    def sipp(self, scenario: str, extension: str, password: str, *, timeout: int = 20, **kw: object) -> subprocess.CompletedProcess:
        """Run one sipp scenario to its end; stdout carries sipp's log and error files too."""
        cmd = self.sipp_command(scenario, extension, password, timeout=timeout, **kw)  # type: ignore[arg-type]
        work = self.workdir()
        result = subprocess.run(cmd, cwd=work, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout + 30)
        logs = "".join(p.read_text(errors="replace") for p in work.glob("*_logs.log"))
        errors = "".join(p.read_text(errors="replace") for p in work.glob("*_errors.log"))
        for p in list(work.glob("*_logs.log")) + list(work.glob("*_errors.log")):
            p.unlink()
        result.stdout += "\n--- sipp log ---\n" + logs + "\n--- sipp errors ---\n" + errors
        return result

    def sipp_background(self, scenario: str, local_port: int, timeout: int = 30) -> subprocess.Popen:
        """A sipp UAS (a phone) on ``local_port``, running until its scenario ends."""
        cmd = self.sipp_command(scenario, "0000", "unused", local_port=local_port, timeout=timeout)
        return subprocess.Popen(cmd, cwd=self.workdir(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)


@pytest.fixture
def phones() -> dict[str, tuple[str, str]]:
    """extension → (password, site)."""
    return {"1001": ("pw-city-1001", "city"), "2001": ("pw-dalad-2001", "dalad"), "3001": ("pw-3001", "ejin")}


def start_harness(settings: Settings, store: Store, **kw: object) -> SipHarness:
    service = SipService(settings, store, port=0, **kw)  # type: ignore[arg-type]
    runtime = Runtime([service])
    runtime.start()
    return SipHarness(settings, store, runtime, service)


@pytest.fixture
def make_sip(settings: Settings, store: Store, phones: dict[str, tuple[str, str]]) -> Iterator[Callable[..., SipHarness]]:
    """Start (and at the end stop) SIP services on the same store; phones exist before the first."""
    for ext, (pw, site) in phones.items():
        add_phone(store, ext, pw, site)
    started: list[SipHarness] = []

    def make(**kw: object) -> SipHarness:
        harness = start_harness(settings, store, **kw)
        started.append(harness)
        return harness

    yield make
    for harness in started:
        harness.runtime.stop()


@pytest.fixture
def sip(make_sip: Callable[..., SipHarness]) -> SipHarness:
    """One SIP service offering MD5 only (sipp 3.6 cannot answer SHA-256 challenges)."""
    return make_sip(algorithms=("MD5",), throttle_limit=3)
