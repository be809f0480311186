"""bench/map: how fast the 59-site live 王 map is drawn in headless Chromium, and how big its live updates are.

Runs the real thing: ``wangnet sim`` (69 simulated devices on loopback),
``wangnet serve`` polling them every 5 s, Debian's Chromium through
Playwright. Printed beside their references, from one run:

* render: navigation to /network/map until the live snapshot is applied
  (every site coloured, ``svg[data-live]``), median of N loads, against the
  issue's target of 1 s;
* live updates: bytes of the server-sent ``changes`` events in quiet cycles and
  of the one carrying a single failed link (a redundant uplink, so nothing is
  cut off), against the full snapshot sent on connect.

    .venv/bin/python bench/map.py [--loads 7] [--link city-core-1--dongsheng-rt]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
TARGET_RENDER_S = 1.0
PASSWORD = "bench password 123"

# Collects the live stream's events in the page: (kind, bytes of the data field, arrival in ms).
COLLECT_JS = """() => new Promise((resolve) => {
  window.__events = [];
  const es = new EventSource('/api/v1/network/events');
  const note = (kind) => (ev) => window.__events.push({kind, bytes: new Blob([ev.data]).size, t: performance.now(),
                                                       data: ev.data});
  es.addEventListener('snapshot', note('snapshot'));
  es.addEventListener('changes', note('changes'));
  window.__es = es;
  resolve(true);
})"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wangnet(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(BIN / "wangnet"), *args], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"wangnet {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def wait_port(port: int, proc: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("wangnet serve exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("wangnet serve did not listen")


def poll_page(page, expression: str, deadline_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    """wait_for_function evaluates strings, which the app's CSP forbids: ask from here instead."""
    end = time.monotonic() + deadline_s
    while not page.evaluate(expression):
        if time.monotonic() > end:
            raise SystemExit(f"timed out waiting for {expression}")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loads", type=int, default=7)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between polls (serve's default is 30)")
    parser.add_argument("--link", default="city-core-1--dongsheng-rt", help="a redundant link to fail (cuts nothing off)")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} missing (Debian's chromium; `make setup` as root installs it)")
    from playwright.sync_api import sync_playwright

    from collectors.status import changes
    from lab.sim import control

    with tempfile.TemporaryDirectory(prefix="bench-map-") as tmp:
        var = Path(tmp)
        env = {**os.environ, "WANGNET_VAR_DIR": str(var), "WANGNET_INVENTORY": str(ROOT / "inventory.yaml"),
               "WANGNET_DEVICE_MODE": "sim", "WANGNET_SIM_PORT_BASE": "0", "WANGNET_COLLECTOR_INTERVAL": str(args.interval),
               "WANGNET_SIP_PORT": "0", "WANGNET_METRICS_PORT": "0"}
        wangnet(env, "sim", "up", "--inventory", str(ROOT / "inventory.yaml"))
        (var / "pw").write_text(PASSWORD + "\n")
        wangnet(env, "user", "add", "bench", "--role", "noc", "--password-file", str(var / "pw"))
        port = free_port()
        log = open(var / "serve.log", "wb")
        serve = subprocess.Popen([str(BIN / "wangnet"), "serve", "--port", str(port)], env=env, stdout=log,
                                 stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_port(port, serve, time.monotonic() + 60)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                            args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
                page = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN").new_page()
                page.set_default_timeout(60_000)
                page.goto(base + "/login")
                page.fill("#username", "bench")
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url("**/network/map")
                # every device polled once: the map has its colours to draw
                page.locator("#wang-map g.site.state-up").nth(58).wait_for(timeout=90_000)
                loads, nav = [], []
                for _ in range(args.loads):
                    t0 = time.perf_counter()
                    page.goto(base + "/network/map")
                    page.wait_for_selector('#wang-map[data-live="1"]')  # the snapshot is applied in one go
                    loads.append(time.perf_counter() - t0)
                    nav.append(page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()"))
                    assert page.locator("#wang-map g.site.state-up").count() == 59
                sites = page.locator("#wang-map g.site").count()
                html_bytes = len(page.content().encode())

                before = page.request.get(base + "/api/v1/network/status").json()
                page.evaluate(COLLECT_JS)
                poll_page(page, "window.__events.length >= 1")
                time.sleep(4 * args.interval + 1)  # a few quiet poll cycles: what a steady network costs
                control.fail(var, link=args.link)
                poll_page(page, "window.__events.some(e => e.kind === 'changes' && e.data.includes('\"down\"'))")
                after = page.request.get(base + "/api/v1/network/status").json()
                control.heal(var)
                events = page.evaluate("window.__events.map(e => ({kind: e.kind, bytes: e.bytes, data: e.data}))")
                browser.close()
        finally:
            serve.terminate()
            try:
                serve.wait(20)
            except subprocess.TimeoutExpired:
                serve.kill()
            log.close()
            subprocess.run([str(BIN / "wangnet"), "sim", "down"], env=env, capture_output=True, timeout=60)

    # the event a single link change makes, by the stream's own rule: that link and the alert it opened, nothing else
    single = {**before, "links": {**before["links"], args.link: after["links"][args.link]}, "alerts": after["alerts"]}
    single_delta = changes(before, single)
    single_bytes = len(json.dumps(single_delta, ensure_ascii=False, separators=(",", ":")).encode())
    snapshot = next(e for e in events if e["kind"] == "snapshot")
    failure = next(e for e in events if e["kind"] == "changes" and '"down"' in e["data"])
    quiet = [e for e in events if e["kind"] == "changes" and e is not failure and events.index(e) < events.index(failure)]
    fail_body = json.loads(failure["data"])
    median = statistics.median(loads)
    dcl = statistics.median(n["domContentLoadedEventEnd"] for n in nav)
    print(f"machine: {platform.node()} · {os.cpu_count()} cores · {platform.platform()} · {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"map page: {sites} sites, {html_bytes / 1024:.0f} KiB of HTML+SVG")
    print(f"render (navigation → every site coloured from the live snapshot), median of {len(loads)}: "
          f"{median * 1000:.0f} ms (min {min(loads) * 1000:.0f}, max {max(loads) * 1000:.0f}); "
          f"DOMContentLoaded {dcl:.0f} ms · target {TARGET_RENDER_S * 1000:.0f} ms → {median / TARGET_RENDER_S:.2f}× the target")
    print(f"live stream: full snapshot {snapshot['bytes']:,} bytes (reference)")
    if quiet:
        sizes = [e["bytes"] for e in quiet]
        print(f"  quiet cycles: {len(quiet)} change events, median {statistics.median(sizes):,.0f} bytes "
              f"({statistics.median(sizes) / snapshot['bytes']:.3f}× the snapshot; polls every {args.interval:g} s)")
    else:
        print(f"  quiet cycles: no change events in {4 * args.interval + 1:g} s (polls every {args.interval:g} s)")
    print(f"  a single link change ({args.link} down, its alert): {single_bytes:,} bytes "
          f"({single_bytes / snapshot['bytes']:.3f}× the snapshot), sections {sorted(single_delta)}")
    print(f"  the real event that carried it: {failure['bytes']:,} bytes ({failure['bytes'] / snapshot['bytes']:.3f}× the snapshot), "
          f"sections {sorted(fail_body)} with {', '.join(f'{k}: {len(v)}' for k, v in sorted(fail_body.items()))}")


if __name__ == "__main__":
    main()
