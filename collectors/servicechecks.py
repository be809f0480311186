"""Application checks from the NOC: TCP connect, HTTP status, SMTP greeting.

Each check answers "did the service do its job within the timeout", with the
reason when not. Whether a failure is the service's own or the network's is
decided with the graph, as for devices (see ``collectors.correlate``).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from topology.schema import Service


@dataclass(frozen=True)
class CheckResult:
    service: str
    ok: bool
    detail: str
    seconds: float


async def _open(host: str, port: int, timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection(host, port), timeout)


async def check(service: Service, host: str, port: int, timeout: float = 5.0) -> CheckResult:
    """Run the check that fits ``service.kind`` against ``host:port``."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    writer = None
    try:
        reader, writer = await _open(host, port, timeout)
        if service.kind == "tcp":
            detail = "connected"
        elif service.kind == "http":
            request = f"GET {service.path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: wangnet-check\r\n\r\n"
            writer.write(request.encode("ascii"))
            await writer.drain()
            status_line = (await asyncio.wait_for(reader.readline(), timeout)).decode("latin-1").strip()
            parts = status_line.split()
            if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
                return CheckResult(service.id, False, f"not an HTTP answer: {status_line[:60]!r}", loop.time() - started)
            code = int(parts[1])
            if code >= 500:
                return CheckResult(service.id, False, f"HTTP {code}", loop.time() - started)
            detail = f"HTTP {code}"
        else:  # smtp
            greeting = (await asyncio.wait_for(reader.readline(), timeout)).decode("latin-1").strip()
            if not greeting.startswith("220"):
                return CheckResult(service.id, False, f"SMTP greeting {greeting[:60]!r}", loop.time() - started)
            writer.write(b"QUIT\r\n")
            await writer.drain()
            detail = "SMTP 220"
        return CheckResult(service.id, True, detail, loop.time() - started)
    except (OSError, asyncio.TimeoutError) as exc:
        if isinstance(exc, asyncio.TimeoutError):
            reason = "no answer within %gs" % timeout
        elif isinstance(exc, ConnectionRefusedError):
            reason = "connection refused"
        else:
            reason = exc.strerror or str(exc)
        return CheckResult(service.id, False, reason, loop.time() - started)
    finally:
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
