"""bench/sip: authenticated SIP registrations per second, wangnet beside Kamailio, on loopback in one run.

Both registrars run side by side and take turns at each rate (so that both meet the same neighbours
on a shared machine); both get the same sipp scenario (REGISTER → 401 → REGISTER with
MD5 digest, qop=auth → 200: two transactions per registration) at stepped
call rates. A step is *clean* when every registration succeeded, the rate was
held, and no request had to be retransmitted. Printed: the clean maximum of
each, the ratio, and wangnet driven at twice its clean maximum (it must keep
completing at least its clean maximum instead of collapsing).

Kamailio (Debian's 5.6) runs a config this script writes into a temporary
directory: in-memory usrloc (db_mode 0), auth with the password in the
config (``pv_www_authenticate``), ``children`` = CPU count. wangnet runs as
``wangnet sip`` in its own process with a phone created in a temporary store.
sipp 3.6 cannot vary the digest username per call, so every registration is
for the same phone (each with its own Call-ID). sipp sends each call from its
own socket (``-t un``), as many phones would; ``--workers`` is passed to
``wangnet sip`` (default 1, wangnet's own default: measured better than one per CPU on this 2-CPU
machine, where sipp needs a CPU of its own). Each step also prints the CPU sipp used: on 2 CPUs the
load generator, not Kamailio, sets Kamailio's clean maximum.

    .venv/bin/python bench/sip/run.py [--seconds 5] [--start 2000]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from telephony.digest import ha1  # noqa: E402
from telephony.models import Phone  # noqa: E402
from wangnet.config import load_settings  # noqa: E402
from wangnet.store import Store  # noqa: E402

HERE = Path(__file__).resolve().parent
REALM = "wangnet.ordos"
USER, PASSWORD = "1001", "bench-password-1001"

KAMAILIO_CFG = """#!KAMAILIO
debug=0
log_stderror=yes
children={children}
listen=udp:127.0.0.1:{port}
disable_tcp=yes
auto_aliases=no
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
modparam("usrloc", "db_mode", 0)
modparam("auth", "nonce_expire", 30)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (!is_method("REGISTER")) {{ sl_send_reply("405", "Method Not Allowed"); exit; }}
    if (!pv_www_authenticate("{realm}", "{password}", "0")) {{
        www_challenge("{realm}", "1");
        exit;
    }}
    consume_credentials();
    if (!save("location")) {{ sl_reply_error(); }}
    exit;
}}
"""


def free_port() -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def _family(pid: int) -> list[tuple[int, list[str]]]:
    """(pid, /proc/PID/stat fields after the name) of ``pid`` and its children (Kamailio forks its workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        proc_pid = int(stat.parent.name)
        if proc_pid == pid or int(fields[1]) == pid:
            found.append((proc_pid, fields))
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its children."""
    tick = os.sysconf("SC_CLK_TCK")
    return sum((int(fields[11]) + int(fields[12])) / tick for _, fields in _family(pid))


@dataclass
class Step:
    rate: int
    seconds: float
    ok: int
    failed: int
    retrans: int
    cpu: float = 0.0  # server CPU seconds during the step
    sipp_cpu: float = 0.0  # the load generator's CPU seconds (it shares the machine's cores with the server)
    window_rate: float = float("nan")  # registrations/s completed while the rate was offered (second 1 to the end)

    @property
    def cpu_us_per_registration(self) -> float:
        return self.cpu / self.ok * 1e6 if self.ok else float("nan")

    @property
    def achieved(self) -> float:
        return self.ok / self.seconds

    @property
    def clean(self) -> bool:
        """Every registration done, none retransmitted, and the offered rate held (within 10 %)."""
        return self.failed == 0 and self.retrans == 0 and self.achieved >= 0.9 * self.rate


SOCKETS = 1000  # sipp's -max_socket: how many source sockets (phones) the calls come from


def run_sipp(port: int, rate: int, seconds: float, work: Path, server_pid: int) -> Step:
    """One sipp run of ``rate`` registrations/s for ``seconds``; counts from sipp's final screen."""
    total = int(rate * seconds)
    sipp_port = free_port()
    cmd = [
        "sipp", f"127.0.0.1:{port}", "-sf", str(HERE / "register.xml"), "-i", "127.0.0.1", "-p", str(sipp_port),
        # a UDP socket per call (up to -max_socket, then reused), so traffic comes from many source ports as
        # from many phones, which SO_REUSEPORT spreads over wangnet's workers; every call registers the same
        # contact (the main port), so the phone keeps one binding as with one socket. Via carries that port
        # too: sipp 3.6 in this mode sometimes writes port 0 for [local_port], which wangnet rejects (400);
        # both servers answer to the datagram's source address anyway
        "-t", "un", "-key", "contact_port", str(sipp_port),
        "-r", str(rate), "-rp", "1000", "-m", str(total), "-l", str(max(100, rate * 4)),
        "-s", USER, "-au", USER, "-ap", PASSWORD, "-key", "domain", REALM, "-key", "expires", "3600",
        # no BYE for an aborted "call" (sipp's default sends one, from Via port 0 with -t un): a phone whose
        # REGISTER got a 503 sends nothing more, and those BYEs only loaded whichever server was overloaded
        "-default_behaviors", "all,-bye",
        "-recv_timeout", "4000", "-timeout", f"{int(seconds * 3 + 20)}s", "-nostdin", "-max_socket", str(SOCKETS),
        # cumulative counts every second: the completion rate while the load is offered, apart from the drain after
        "-trace_stat", "-stf", str(work / f"stat-{sipp_port}.csv"), "-fd", "1",
    ]
    started, cpu_before = time.monotonic(), tree_cpu(server_pid)
    children_before = os.times()
    result = subprocess.run(cmd, cwd=work, capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL)
    elapsed, cpu = time.monotonic() - started, tree_cpu(server_pid) - cpu_before
    children_after = os.times()
    sipp_cpu = (children_after.children_user - children_before.children_user
                + children_after.children_system - children_before.children_system)
    out = result.stdout
    ok = _last_int(out, r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)")
    failed = _last_int(out, r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)")
    rows = re.findall(r"REGISTER ---------->\s+\d+\s+(\d+)", out)
    retrans = sum(int(r) for r in rows[-2:])  # the final screen's two REGISTER rows
    window = _window_rate(work / f"stat-{sipp_port}.csv", seconds)
    return Step(rate, max(elapsed, seconds), ok, failed, retrans, cpu, sipp_cpu, window)


def _window_rate(path: Path, seconds: float) -> float:
    """Completed registrations/s from sipp's second 1 to second ``seconds`` (the calls are offered until then).

    sipp's own total divides by the whole run, which goes on after the last call is offered until every call
    has ended: a call whose request was dropped lingers for its retransmissions (up to -recv_timeout), one
    answered 503 ends at once. The window measures the serving rate under the offered load itself."""
    try:
        rows = path.read_text(errors="replace").splitlines()
        path.unlink()
    except OSError:
        return float("nan")
    if not rows:
        return float("nan")
    header = rows[0].split(";")
    done = header.index("SuccessfulCall(C)")
    points = []  # (seconds since the start, completed so far)
    for row in rows[1:]:
        fields = row.split(";")
        if len(fields) <= done:
            continue
        start, current = float(fields[0].split()[-1]), float(fields[2].split()[-1])
        points.append((current - start, int(fields[done])))
    inside = [p for p in points if 0.5 <= p[0] <= seconds + 0.5]
    if len(inside) < 2:
        return float("nan")
    (t0, n0), (t1, n1) = inside[0], inside[-1]
    return (n1 - n0) / (t1 - t0) if t1 > t0 else float("nan")


def _report_over(name: str, step: Step) -> None:
    print(f"  {name:9s} {step.rate:6d}/s offered (2x clean max): {step.window_rate:8.0f}/s done while offered, "
          f"{step.achieved:.0f}/s over the whole run ({step.seconds:.1f} s with the drain), {step.failed} failed, "
          f"{step.retrans} retransmitted, server used {step.cpu / step.seconds:.2f} CPUs, "
          f"sipp {step.sipp_cpu / step.seconds:.2f}", flush=True)


class CpuCap:
    """A cgroup (v2 or v1 cpu controller) that holds the servers' processes to a share of one CPU (root only)."""

    def __init__(self, cpus: float) -> None:
        period = 10000  # 10 ms: a short period spreads the quota finely instead of 100 ms on/off bursts
        quota = max(1000, int(cpus * period))
        self.dirs: list[Path] = []
        v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
        base = Path("/sys/fs/cgroup") if v2 else Path("/sys/fs/cgroup/cpu")
        self.base, self.v2, self.period, self.quota = base, v2, period, quota

    def add(self, name: str, pid: int) -> None:
        """Put ``pid`` and its children (Kamailio's workers) into a capped group of their own."""
        group = self.base / f"bench-sip-{name}-{os.getpid()}"
        group.mkdir()
        self.dirs.append(group)
        if self.v2:
            (group / "cpu.max").write_text(f"{self.quota} {self.period}")
        else:
            (group / "cpu.cfs_period_us").write_text(str(self.period))
            (group / "cpu.cfs_quota_us").write_text(str(self.quota))
        for proc, _ in _family(pid):
            (group / "cgroup.procs").write_text(str(proc))

    def remove(self) -> None:
        for group in self.dirs:
            try:
                group.rmdir()
            except OSError as exc:
                print(f"cgroup {group} not removed: {exc}", file=sys.stderr)
        self.dirs = []


def _last_int(text: str, pattern: str) -> int:
    found = re.findall(pattern, text)
    return int(found[-1]) if found else 0


def _report(name: str, step: Step) -> None:
    print(f"  {name:9s} {step.rate:6d}/s offered: {step.ok} ok in {step.seconds:.1f} s = {step.achieved:8.0f}/s, {step.failed} failed, "
          f"{step.retrans} retransmitted, {step.cpu_us_per_registration:5.0f} CPU-us/registration, "
          f"sipp {step.sipp_cpu / step.seconds:.2f} CPUs -> {'clean' if step.clean else 'NOT clean'}", flush=True)


def clean_maxima(servers: dict[str, tuple[int, int]], start: int, seconds: float, work: Path,
                 limit: int = 60000) -> dict[str, Step | None]:
    """Step the rate up by 25 % until a step is not clean, for every server at once: at each rate the
    servers take their turn one after the other, so that they meet the same neighbours on this shared
    machine (the load of the other jobs changes within minutes). ``servers``: name → (port, pid)."""
    best: dict[str, Step | None] = {name: None for name in servers}
    running = list(servers)
    rate = start
    while running and rate <= limit:
        for name in list(running):
            port, pid = servers[name]
            step = run_sipp(port, rate, seconds, work, pid)
            _report(name, step)
            if step.clean:
                best[name] = step
            else:
                running.remove(name)
            time.sleep(1)  # let retransmission timers of the last step die out
        rate = int(rate * 1.25)
    return best


def wait_udp(port: int, proc: subprocess.Popen, what: str, timeout: float = 30) -> None:
    """Wait until something answers an OPTIONS on ``port``."""
    probe = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bKprobe\r\n"
             f"From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1>\r\nCall-ID: probe\r\nCSeq: 1 OPTIONS\r\n"
             f"Content-Length: 0\r\n\r\n").encode()
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}")
            s.sendto(probe, ("127.0.0.1", port))
            try:
                s.recvfrom(4096)
                return
            except socket.timeout:
                continue
    raise TimeoutError(f"{what} did not answer on {port}")


def start_wangnet(work: Path, workers: int) -> tuple[subprocess.Popen, int]:
    var = work / "wangnet-var"
    settings = load_settings(environ={}, var_dir=var)
    store = Store.from_settings(settings)
    store.upgrade()
    with store.session() as s:
        s.add(Phone(extension=USER, site_id="city", realm=REALM, ha1_md5=ha1(USER, REALM, PASSWORD),
                    ha1_sha256=ha1(USER, REALM, PASSWORD, "SHA-256")))
    store.dispose()
    port = free_port()
    env = {**os.environ, "WANGNET_VAR_DIR": str(var), "WANGNET_SIP_REALM": REALM, "WANGNET_SIP_DIGEST_ALGORITHMS": "MD5"}
    proc = subprocess.Popen([str(Path(sys.executable).with_name("wangnet")), "sip", "--port", str(port), "--workers", str(workers)], env=env,
                            stdout=(work / "wangnet.log").open("w"), stderr=subprocess.STDOUT)
    try:
        wait_udp(port, proc, "wangnet sip")
    except BaseException:
        stop(proc)
        raise
    return proc, port


def start_kamailio(work: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cfg = work / "kamailio.cfg"
    cfg.write_text(KAMAILIO_CFG.format(children=os.cpu_count() or 2, port=port, realm=REALM, password=PASSWORD))
    run_dir = work / "kamailio-run"
    run_dir.mkdir()
    check = subprocess.run(["kamailio", "-c", "-f", str(cfg)], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"kamailio config check failed:\n{check.stderr[-2000:]}")
    proc = subprocess.Popen(["kamailio", "-f", str(cfg), "-DD", "-E", "-m", "256", "-M", "16", "-Y", str(run_dir),
                             "-P", str(run_dir / "kamailio.pid")],
                            stdout=(work / "kamailio.log").open("w"), stderr=subprocess.STDOUT)
    try:
        wait_udp(port, proc, "kamailio")
    except BaseException:
        stop(proc)
        raise
    return proc, port


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each rate step")
    parser.add_argument("--start", type=int, default=2000, help="first rate (registrations/s)")
    parser.add_argument("--workers", type=int, default=1,
                        help="wangnet sip worker processes (default 1, wangnet's own default; see telephony/README.md)")
    parser.add_argument("--cap-cpus", type=float, default=None,
                        help="hold each server to this share of one CPU (a cgroup; root): the CPU-bound case, where "
                             "what shedding costs decides the overload figure")
    args = parser.parse_args()
    if args.cap_cpus is not None and os.geteuid() != 0:
        print("--cap-cpus needs root (it makes a cgroup)", file=sys.stderr)
        return 2
    cap = CpuCap(args.cap_cpus) if args.cap_cpus is not None else None
    for binary in ("sipp", "kamailio"):
        if shutil.which(binary) is None:
            print(f"{binary} is not installed (Debian packages sip-tester, kamailio)", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="bench-sip-") as tmp:
        work = Path(tmp)
        print(f"bench/sip: authenticated registrations/s (sipp, {args.seconds:.0f} s per step, 2 transactions each), "
              f"{os.cpu_count()} CPUs")
        load_before = os.getloadavg()[0]
        kamailio, kport = start_kamailio(work)
        try:
            wangnet, wport = start_wangnet(work, args.workers)
        except BaseException:
            stop(kamailio)
            raise
        try:
            if cap is not None:
                cap.add("kamailio", kamailio.pid)
                cap.add("wangnet", wangnet.pid)
        except BaseException:
            stop(kamailio)
            stop(wangnet)
            cap.remove()  # type: ignore[union-attr]
            raise
        try:
            print(f"Kamailio 5.6 (in-memory usrloc, auth) and wangnet sip ({args.workers} worker "
                  f"process{'es' if args.workers > 1 else ''}), in turns at each rate:")
            found = clean_maxima({"kamailio": (kport, kamailio.pid), "wangnet": (wport, wangnet.pid)},
                                 args.start, args.seconds, work)
            kam, wan = found["kamailio"], found["wangnet"]
            kam_over = None
            if kam is not None:  # the reference under the same overload, for reading wangnet's figure beside it
                time.sleep(2)
                kam_over = run_sipp(kport, kam.rate * 2, args.seconds, work, kamailio.pid)
                _report_over("kamailio", kam_over)
            stop(kamailio)
            over = None
            if wan is not None:
                time.sleep(2)
                over = run_sipp(wport, wan.rate * 2, args.seconds, work, wangnet.pid)
                _report_over("wangnet", over)
        finally:
            stop(kamailio)
            stop(wangnet)
            if cap is not None:
                cap.remove()
        print()
        kam_rate = kam.achieved if kam else 0.0
        wan_rate = wan.achieved if wan else 0.0
        print(f"clean maximum: wangnet {wan_rate:,.0f}/s, Kamailio {kam_rate:,.0f}/s, "
              f"ratio {wan_rate / kam_rate if kam_rate else float('nan'):.2f}x Kamailio")
        if kam and wan:
            print(f"server CPU per registration at the clean maximum: wangnet {wan.cpu_us_per_registration:.0f} us, "
                  f"Kamailio {kam.cpu_us_per_registration:.0f} us (all its processes) "
                  f"-> Kamailio is {wan.cpu_us_per_registration / kam.cpu_us_per_registration:.1f}x as CPU-efficient")
        print(f"load average (1 min): {load_before:.1f} before the run, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs "
              f"(other work on the machine skews rates)")
        if cap is not None:
            print(f"both servers were capped at {args.cap_cpus:g} CPU each (cgroup): a CPU-bound server, as on a "
                  f"slower or busier machine")
        if kam_over is not None and kam is not None:
            print(f"at 2x its clean maximum Kamailio completed {kam_over.window_rate:,.0f}/s while the load was offered = "
                  f"{kam_over.window_rate / kam.achieved:.2f}x its clean maximum ({kam_over.achieved:,.0f}/s = "
                  f"{kam_over.achieved / kam.achieved:.2f}x over the whole run with its drain; the reference, same conditions)")
        if over is not None and wan is not None:
            held = over.window_rate / wan.achieved
            print(f"at 2x its clean maximum wangnet completed {over.window_rate:,.0f}/s while the load was offered = "
                  f"{held:.2f}x its clean maximum ({'kept serving' if held >= 1.0 else 'fell below its clean maximum'}; "
                  f"{over.achieved:,.0f}/s = {over.achieved / wan.achieved:.2f}x over the whole run with its drain)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
