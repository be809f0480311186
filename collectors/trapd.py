"""The trap receiver: a UDP socket that decodes, checks and hands traps on (I/O only)."""
from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Callable

from collectors.traps import Trap, TrapError, accept, decode

log = logging.getLogger(__name__)
# source address → (device id, the v2c communities accepted from it), or None for strangers
SourceLookup = Callable[[str], "tuple[str, str | frozenset[str] | None] | None"]
TrapHandler = Callable[[str, Trap], None]


class TrapProtocol(asyncio.DatagramProtocol):
    def __init__(self, sources: SourceLookup, on_trap: TrapHandler) -> None:
        self.sources = sources
        self.on_trap = on_trap
        self.counts: Counter[str] = Counter()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        known = self.sources(addr[0])
        if known is None:
            self.counts["unknown_source"] += 1
            log.warning("trap from unknown source %s dropped", addr[0])
            return
        device, community = known
        try:
            trap = decode(data)
            accept(trap, community)
        except TrapError as exc:
            reason = "bad_community" if "community" in str(exc) else "malformed"
            self.counts[reason] += 1
            log.warning("trap from %s (%s) dropped: %s", addr[0], device, exc)
            return
        self.counts["accepted"] += 1
        try:
            self.on_trap(device, trap)
        except Exception:  # a handler bug must not kill the receiver
            log.exception("trap handler failed for %s", device)


class TrapReceiver:
    """Runtime service: listens on ``host:port`` (162 as root, else 1162 by default)."""

    name = "trap-receiver"

    def __init__(self, host: str, port: int, sources: SourceLookup, on_trap: TrapHandler) -> None:
        self.host, self.port = host, port
        self.protocol = TrapProtocol(sources, on_trap)
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: self.protocol, local_addr=(self.host, self.port)
        )
        self.port = self._transport.get_extra_info("sockname")[1]

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
