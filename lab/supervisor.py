"""The lab's supervisor: one process that owns every daemon of every lab device.

PID 1 on this kind of machine does not reap orphans, so daemons must not be
left to it. ``lab up`` starts this process detached (its own session); it
starts each daemon in the foreground as its child, marks itself a child
subreaper (so anything a daemon forks and abandons is reaped here too),
restarts a daemon that dies (a few times, with a pause), writes who runs
with which pid to ``supervisor.json``, and on SIGTERM stops them all.

Run as ``python -m lab.supervisor RUN_DIR``; the daemons come from
``RUN_DIR/daemons.json`` (``[{"name", "argv", "log", "env"}]``).
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
MAX_RESTARTS = 5
RESTART_PAUSE_S = 1.0
STOP_GRACE_S = 3.0


@dataclass
class Daemon:
    name: str
    argv: list[str]
    log: str
    env: dict[str, str] = field(default_factory=dict)
    pid: int | None = None
    restarts: int = 0
    died_at: float | None = None
    last_status: int | None = None


class Supervisor:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        spec = json.loads((run_dir / "daemons.json").read_text())
        self.daemons = [Daemon(d["name"], d["argv"], d["log"], d.get("env", {})) for d in spec]
        self.by_pid: dict[int, Daemon] = {}
        self.stopping = False

    def start(self, d: Daemon) -> None:
        env = {**os.environ, **d.env}
        with open(d.log, "ab") as log:
            proc = subprocess.Popen(d.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        d.pid = proc.pid
        d.died_at = None
        self.by_pid[proc.pid] = d

    def write_status(self) -> None:
        data = {"pid": os.getpid(), "daemons": {d.name: {"pid": d.pid, "restarts": d.restarts, "last_status": d.last_status}
                                              for d in self.daemons}}
        tmp = self.run_dir / "supervisor.json.tmp"
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(self.run_dir / "supervisor.json")

    def run(self) -> int:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        for d in self.daemons:
            self.start(d)
        self.write_status()
        while not self.stopping:
            self._reap(block_s=0.5)
            self._restart_due()
        self._stop_all()
        return 0

    def _on_term(self, *_: object) -> None:
        self.stopping = True

    def _reap(self, block_s: float) -> None:
        deadline = time.monotonic() + block_s
        changed = False
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if pid:
                d = self.by_pid.pop(pid, None)
                if d is not None:  # an orphan reaped through the subreaper flag needs nothing more
                    d.pid, d.died_at, d.last_status = None, time.monotonic(), os.waitstatus_to_exitcode(status)
                    changed = True
                    print(f"{time.strftime('%H:%M:%S')} {d.name} exited ({d.last_status})", flush=True)
                continue
            if self.stopping or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if changed:
            self.write_status()

    def _restart_due(self) -> None:
        now = time.monotonic()
        for d in self.daemons:
            if d.pid is None and d.died_at is not None and d.restarts < MAX_RESTARTS and now - d.died_at >= RESTART_PAUSE_S:
                d.restarts += 1
                print(f"{time.strftime('%H:%M:%S')} restarting {d.name} ({d.restarts}/{MAX_RESTARTS})", flush=True)
                self.start(d)
                self.write_status()

    def _stop_all(self) -> None:
        for sig, grace in ((signal.SIGCONT, 0.0), (signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, STOP_GRACE_S)):
            for pid in list(self.by_pid):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            end = time.monotonic() + grace
            while self.by_pid and time.monotonic() < end:
                self._reap(block_s=0.05)
        while True:  # whatever the subreaper inherited
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        for d in self.daemons:
            d.pid = None
        self.write_status()


def main() -> int:
    return Supervisor(Path(sys.argv[1])).run()


if __name__ == "__main__":
    raise SystemExit(main())
