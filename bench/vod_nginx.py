"""Bench: VOD segments through nginx with wangnet's access check (X-Accel-Redirect) vs nginx serving the files.

The deployment's own config (deploy/nginx/wangnet.conf, rendered with free loopback
ports and a self-signed certificate) in front of ``wangnet serve``: every segment
request goes to wangnet, which checks the login, role and episode and answers with an
empty body and ``X-Accel-Redirect``; nginx then sends the file. The reference is the
same nginx, same TLS settings and certificate, serving the same file from a location
with no check at all. ``wrk -c32`` over HTTPS (production is TLS-only) and over plain
HTTP on the same servers (no encryption to hide the check's cost); full 2 MB segments
and 1 MB Range requests; the config as shipped (a viewer's grant kept 10 s) and with
the grant cache off (wangnet asked for every segment). Issue #9's target: ≥ 0.95×.

Run with ``.venv/bin/python bench/vod.py --through-nginx [--wrk-seconds 10]``
(or this file directly).
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vod.catalogue import parse_meta  # noqa: E402
from vod.demo import make_source  # noqa: E402
from vod.ingest import Ingest  # noqa: E402
from vod.paths import MediaPaths  # noqa: E402
from vod.search import search_for  # noqa: E402
from wangnet import accounts  # noqa: E402
from wangnet.config import load_settings  # noqa: E402
from wangnet.deploy_templates import render_file  # noqa: E402
from wangnet.store import Store  # noqa: E402

PASSWORD = "bench password 123"
CSRF_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
ACCEL = "@wangnet_vod"
SEGMENT = "seg_99999.m4s"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str, deadline: float = 90) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{what}: nothing listens on {port}")


def wrk(url: str, seconds: int, headers: list[str], connections: int) -> float:
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s"]
    for h in headers:
        argv += ["-H", h]
    out = subprocess.run(argv + [url], capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        curl = ["curl", "-ksi", "--max-time", "10", "-o", "-"] + [x for h in headers for x in ("-H", h)] + [url]
        sample = subprocess.run(curl, capture_output=True).stdout[:600].decode(errors="replace")
        raise RuntimeError(f"wrk saw {non2xx.group(1)} error responses from {url}; one of them:\n{sample}")
    return float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))


def https(port: int, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ssl._create_unverified_context(), timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def login(port: int, user: str) -> str:
    """The session cookie of ``user``, logged in through nginx (https, referrer checked)."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ssl._create_unverified_context(), timeout=30)
    conn.request("GET", "/login")
    page = conn.getresponse()
    cookie = page.getheader("Set-Cookie", "").split(";", 1)[0]
    token = CSRF_RE.search(page.read().decode()).group(1)
    form = f"username={user}&password={PASSWORD.replace(' ', '+')}&csrf_token={token}".encode()
    conn.request("POST", "/login", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
        "Referer": f"https://127.0.0.1:{port}/login"})
    answer = conn.getresponse()
    answer.read()
    conn.close()
    if answer.status != 302:
        raise RuntimeError(f"login through nginx failed: {answer.status}")
    return answer.getheader("Set-Cookie").split(";", 1)[0]


def main_conf(prefix: Path, site: Path, direct_port: int, vod_dir: Path, cert: Path, key: Path) -> str:
    """Debian's nginx.conf in miniature, plus the reference server: same TLS, the files with no check."""
    temps = " ".join(f"{k}_temp_path {prefix}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""
worker_processes 2;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    {temps}
    include {site};
    server {{
        listen 127.0.0.1:{direct_port} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:direct_tls:10m;
        sendfile on;
        tcp_nopush on;
        root {vod_dir};
        types {{ video/iso.segment m4s; application/vnd.apple.mpegurl m3u8; }}
    }}
}}
"""


def run(wrk_seconds: int = 10, connections: int = 32, threads: int = 32, repeat: int = 2) -> None:
    for tool in ("ffmpeg", "wrk", "nginx", "openssl"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not installed (make setup as root installs it)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-vod-nginx-"))
    tmp.chmod(0o755)  # nginx workers run as an unprivileged user and read the segment
    procs: list[subprocess.Popen] = []
    results: dict[tuple[str, str, str], tuple[float, float]] = {}
    try:
        var = tmp / "var"
        settings = load_settings(environ={}, var_dir=var, inventory_path=ROOT / "inventory.yaml")
        store = Store.from_settings(settings)
        store.upgrade()
        with store.session() as s:
            accounts.create_user(s, "bench-staff", PASSWORD, ["staff"])
        paths = MediaPaths(settings.resolved_vod_dir)
        ingest = Ingest(store, paths, search_for(store, paths.root))
        source = make_source(tmp / "source.mp4", 2, width=640, height=360)
        sub = ingest.submit(source, parse_meta("events", "2026-11-25", "反向代理基准"), "bench", 2**32)
        assert ingest.run_sync(sub.job_id)
        store.dispose()
        rung = sorted(p.name for p in paths.episode(sub.episode_id).iterdir() if p.is_dir())[0]
        (paths.episode(sub.episode_id) / rung / SEGMENT).write_bytes(os.urandom(2 * 2**20))

        cert, key = tmp / "tls.crt", tmp / "tls.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-days", "2", "-subj", "/CN=wangnet.bench", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
        web_port = free_port()
        env = {**os.environ, "WANGNET_VAR_DIR": str(var), "WANGNET_INVENTORY": str(ROOT / "inventory.yaml"),
               "WANGNET_SIP_PORT": "0", "WANGNET_METRICS_PORT": "0", "WANGNET_COLLECTOR_INTERVAL": "0",
               "WANGNET_TRUSTED_PROXIES": "1", "WANGNET_COOKIE_SECURE": "1", "WANGNET_VOD_ACCEL_REDIRECT": ACCEL}
        log = open(tmp / "serve.log", "wb")
        procs.append(subprocess.Popen([str(Path(sys.executable).with_name("wangnet")), "serve", "--port", str(web_port),
                                       "--threads", str(threads)], env=env, stdout=log, stderr=subprocess.STDOUT))
        wait_port(web_port, procs[0], "wangnet serve")
        media = f"/vod/media/{sub.episode_id}/{rung}/{SEGMENT}"
        direct_path = f"/episodes/{sub.episode_id}/{rung}/{SEGMENT}"
        for variant, kept in (("grants kept 10 s (as shipped)", True), ("every request checked", False)):
            port, http_port, direct_port = free_port(), free_port(), free_port()
            site = tmp / f"wangnet-{kept}.conf"
            text = render_file(ROOT / "deploy" / "nginx" / "wangnet.conf", {
                "SERVER_NAME": "wangnet.bench", "HTTPS_LISTEN": f"127.0.0.1:{port}",
                "HTTP_LISTEN": f"127.0.0.1:{http_port}", "TLS_CERTIFICATE": cert, "TLS_CERTIFICATE_KEY": key,
                "WEB_UPSTREAM": f"127.0.0.1:{web_port}", "METRICS_UPSTREAM": "127.0.0.1:9",
                "MONITORING_ADDRESS": "127.0.0.2", "VOD_DIR": paths.root, "MAX_UPLOAD": "64m",
                "CACHE_DIR": tmp / f"grants-{kept}"})
            plain, plain_direct = free_port(), free_port()  # the same servers without TLS: the check's cost laid bare
            text = text.replace(f"listen 127.0.0.1:{port} ssl http2;", f"listen 127.0.0.1:{port} ssl http2;\n"
                                f"    listen 127.0.0.1:{plain};")
            if not kept:  # the bench's variant: wangnet asked for every segment
                assert "proxy_cache wangnet_vod_access;" in text
                text = text.replace("proxy_cache wangnet_vod_access;", "proxy_cache off;")
            site.write_text(text)
            prefix = tmp / f"nginx-{kept}"
            prefix.mkdir()
            (tmp / f"grants-{kept}").mkdir()
            conf = prefix / "nginx.conf"
            conf.write_text(main_conf(prefix, site, direct_port, paths.root, cert, key).replace(
                f"listen 127.0.0.1:{direct_port} ssl http2;",
                f"listen 127.0.0.1:{direct_port} ssl http2;\n        listen 127.0.0.1:{plain_direct};"))
            ngx = subprocess.Popen(["nginx", "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"])
            procs.append(ngx)
            wait_port(port, ngx, "nginx")
            cookie = login(port, "bench-staff")
            anonymous = https(port, "GET", media)  # the checked path really is checked: no cookie, no segment
            assert anonymous.status in (302, 401), anonymous.status
            for scheme, front, reference in (("https", port, direct_port), ("http", plain, plain_direct)):
                checked = f"{scheme}://127.0.0.1:{front}{media}"
                direct = f"{scheme}://127.0.0.1:{reference}{direct_path}"
                for name, extra in (("full", []), ("range", ["Range: bytes=0-1048575"])):
                    # alternate, best of `repeat` each: the machine is shared
                    a, b = [], []
                    for _ in range(repeat):
                        a.append(wrk(checked, wrk_seconds, [f"Cookie: {cookie}", *extra], connections))
                        b.append(wrk(direct, wrk_seconds, extra, connections))
                    results[(variant, scheme, name)] = (max(a), max(b))
            ngx.terminate()
            ngx.wait(20)
    except Exception:
        for log in sorted(tmp.glob("*.log")) + sorted(tmp.glob("nginx-*/error.log")):
            print(f"--- {log.relative_to(tmp)} (end)\n{log.read_text(errors='replace')[-2000:]}", file=sys.stderr)
        raise
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"# bench/vod through nginx — {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average {load}, "
          f"nginx {nginx_version()}, wrk -t2 -c{connections} {wrk_seconds}s, best of {repeat} alternating")
    for (variant, scheme, name), (checked_rps, direct_rps) in results.items():
        label = f"{scheme:<5} " + ("segment 2 MB" if name == "full" else "Range 1 MB of it")
        print(f"{label:<22} nginx + wangnet check, {variant}: {checked_rps:,.0f} req/s, nginx direct "
              f"{direct_rps:,.0f} req/s, ratio {checked_rps / direct_rps:.2f}× (target ≥ 0.95×)")


def nginx_version() -> str:
    out = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr
    return out.strip().rsplit("/", 1)[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2, help="wrk runs of each side, alternating (best is kept)")
    args = parser.parse_args()
    run(args.wrk_seconds, args.connections, repeat=args.repeat)


if __name__ == "__main__":
    main()
