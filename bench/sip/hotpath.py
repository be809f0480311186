"""bench/sip/hotpath: CPU per authenticated registration inside one wangnet SIP process, without sipp.

Feeds sipp-shaped REGISTER datagrams (REGISTER → 401 → REGISTER with an MD5
qop=auth digest → 200) through the same code the UDP reader runs (the
transaction cache look-up by raw bytes, then ``SipService._on_message``), with
the socket replaced by a recorder, and times only the service's work. It
isolates the Python hot path from the kernel and from sipp, so it is the
figure to watch while optimising; ``bench/sip/run.py`` is the end-to-end one.

    .venv/bin/python bench/sip/hotpath.py [--registrations 20000] [--profile]
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import os
import pstats
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from telephony.digest import ha1  # noqa: E402
from telephony.models import Phone  # noqa: E402
from telephony.service import SipService  # noqa: E402
from wangnet.config import load_settings  # noqa: E402
from wangnet.store import Store  # noqa: E402

REALM = "wangnet.ordos"
USER, PASSWORD = "1001", "bench-password-1001"
_NONCE = re.compile(rb'nonce="([^"]+)"')


class _Recorder:
    """Stands in for the UDP socket: keeps the last datagram sent."""

    def __init__(self) -> None:
        self.last = b""

    def sendto(self, data: bytes, addr: object) -> None:
        self.last = data

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        pass


def _register(n: int, cseq: int, auth: str = "") -> bytes:
    lines = [
        f"REGISTER sip:{REALM} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-4242-{n}-{cseq}",
        "Max-Forwards: 70",
        f"From: <sip:{USER}@{REALM}>;tag=4242SIPpTag00{n}",
        f"To: <sip:{USER}@{REALM}>",
        f"Call-ID: {n}-4242@127.0.0.1",
        f"CSeq: {cseq} REGISTER",
        f"Contact: <sip:{USER}@127.0.0.1:5070;transport=UDP>",
        "Expires: 3600",
    ]
    if auth:
        lines.append(auth)
    lines += ["User-Agent: sipp-test", "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def _authorization(nonce: str, n: int) -> str:
    h = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    a1 = ha1(USER, REALM, PASSWORD)
    uri = f"sip:{REALM}"
    cnonce, nc = f"{n:08x}", "00000001"
    response = h(f"{a1}:{nonce}:{nc}:{cnonce}:auth:{h('REGISTER:' + uri)}")
    return (f'Authorization: Digest username="{USER}",realm="{REALM}",cnonce="{cnonce}",nc={nc},qop=auth,'
            f'uri="{uri}",nonce="{nonce}",response="{response}",algorithm=MD5')


def _udp_path(service: SipService):  # type: ignore[no-untyped-def]
    """What ``SipService._on_udp_readable`` does with one fresh datagram once it is read."""
    from telephony.proxy import Peer

    def handle(data: bytes, addr: tuple[str, int], now: float, stamp: float) -> None:
        cached = service.cache.get(data, now)
        if cached is not None:
            service._udp.sendto(cached, addr)
            return
        service._on_message(data, Peer("udp", addr[0], addr[1]), now, addr)
    return handle


async def _run(count: int, profile: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="sip-hotpath-") as tmp:
        settings = load_settings(environ={}, var_dir=Path(tmp))
        store = Store.from_settings(settings)
        store.upgrade()
        with store.session() as s:
            s.add(Phone(extension=USER, site_id="city", realm=REALM, ha1_md5=ha1(USER, REALM, PASSWORD),
                        ha1_sha256=ha1(USER, REALM, PASSWORD, "SHA-256")))
        service = SipService(settings, store, port=0, algorithms=("MD5",))
        await service.start()
        loop = asyncio.get_running_loop()
        real = service._udp
        loop.remove_reader(real.fileno())
        recorder = _Recorder()
        service._udp = recorder  # type: ignore[assignment]
        addr = ("127.0.0.1", 5070)
        first = [_register(n, 1) for n in range(count)]
        spent = 0.0
        chunks: list[float] = []  # CPU per registration of each block of 250: the machine is shared, so the
        chunk_start = 0.0         # quietest blocks say more about the code than the total does
        profiler = cProfile.Profile(time.thread_time) if profile else None
        handle = _udp_path(service)
        try:
            for n in range(count):
                now = time.time()
                t0 = time.thread_time()
                if profiler:
                    profiler.enable()
                handle(first[n], addr, now, now)
                if profiler:
                    profiler.disable()
                spent += time.thread_time() - t0
                challenge = recorder.last
                assert challenge.startswith(b"SIP/2.0 401"), challenge[:60]
                second = _register(n, 2, _authorization(_NONCE.search(challenge).group(1).decode(), n))
                t0 = time.thread_time()
                if profiler:
                    profiler.enable()
                handle(second, addr, now, now)
                if profiler:
                    profiler.disable()
                spent += time.thread_time() - t0
                assert recorder.last.startswith(b"SIP/2.0 200"), recorder.last[:200]
                if n % 250 == 249:
                    chunks.append((spent - chunk_start) / 250)
                    chunk_start = spent
                if n % 2000 == 1999:
                    service.cache.sweep(now)
        finally:
            service._udp = real
            await service.stop()
            store.dispose()
        if chunks:
            chunks.sort()
            print(f"blocks of 250: quietest {chunks[0] * 1e6:.1f} us, median {chunks[len(chunks) // 2] * 1e6:.1f} us "
                  f"per registration")
        print(f"{count} registrations (2 transactions each): {spent / count * 1e6:.1f} us of wangnet CPU per registration "
              f"(thread CPU time of the hot path, no socket I/O; load average {os.getloadavg()[0]:.1f})")
        if profiler:
            pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "tottime")).print_stats(25)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--registrations", type=int, default=20000)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the service's work")
    args = parser.parse_args()
    asyncio.run(_run(args.registrations, args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
