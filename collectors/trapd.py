"""The trap receiver: a UDP socket that decodes, checks and hands traps on (I/O only).

SNMPv2c traps are decoded and checked here. SNMPv3 notifications arriving on
the same socket are handed to a pysnmp engine, whose USM checks users, keys and
time windows: v3 is accepted as authPriv INFORMs (acknowledged notifications),
for which the receiver is the authoritative engine — so the sending devices'
engine ids need no configuring here, unlike v3 TRAPs.
"""
from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from collectors.traps import Trap, TrapError, accept, decode, from_varbinds, is_v3

log = logging.getLogger(__name__)
# source address → (device id, the v2c communities accepted from it), or None for strangers
SourceLookup = Callable[[str], "tuple[str, str | frozenset[str] | None] | None"]
TrapHandler = Callable[[str, Trap], None]


class TrapProtocol(asyncio.DatagramProtocol):
    def __init__(self, sources: SourceLookup, on_trap: TrapHandler) -> None:
        self.sources = sources
        self.on_trap = on_trap
        self.counts: Counter[str] = Counter()

    v3: "V3Notifications | None" = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        known = self.sources(addr[0])
        if known is not None and self.v3 is not None and is_v3(data):
            self.v3.feed(data, addr)  # USM decides; authenticated informs come back through _v3_notification
            return
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
        self._deliver(device, trap)

    def _deliver(self, device: str, trap: Trap) -> None:
        self.counts["accepted"] += 1
        try:
            self.on_trap(device, trap)
        except Exception:  # a handler bug must not kill the receiver
            log.exception("trap handler failed for %s", device)

    def _v3_notification(self, address: str, user: str, level: int, varbinds: tuple[tuple[str, str], ...]) -> None:
        known = self.sources(address)
        if known is None:
            self.counts["unknown_source"] += 1
            return
        device = known[0]
        if level != 3:  # noAuthNoPriv / authNoPriv: a v3 user name alone proves nothing
            self.counts["bad_credentials"] += 1
            log.warning("SNMPv3 notification from %s (%s) dropped: security level %d, authPriv required",
                        address, device, level)
            return
        self._deliver(device, from_varbinds(f"v3:{user}", varbinds))


@dataclass(frozen=True)
class V3User:
    """An SNMPv3 user devices send notifications as (from the inventory's snmp-v3 credentials)."""

    username: str
    auth_key: str
    priv_key: str
    auth_protocol: str = "sha"
    priv_protocol: str = "aes"


class V3Notifications:
    """pysnmp's engine fed with the receiver's own datagrams, answering on the receiver's socket."""

    def __init__(self, users: list[V3User], deliver: Callable[[str, str, int, tuple[tuple[str, str], ...]], None]) -> None:
        from pysnmp.carrier.asyncio.dgram import udp
        from pysnmp.entity import config, engine
        from pysnmp.entity.rfc3413 import ntfrcv

        from collectors.snmp import AUTH_PROTOCOLS, PRIV_PROTOCOLS

        self.engine = engine.SnmpEngine()
        self.transport = udp.UdpTransport()
        config.add_transport(self.engine, udp.DOMAIN_NAME, self.transport)
        for user in users:
            config.add_v3_user(self.engine, user.username, AUTH_PROTOCOLS[user.auth_protocol], user.auth_key,
                               PRIV_PROTOCOLS[user.priv_protocol], user.priv_key)
        self._security: dict[str, object] = {}
        self.engine.observer.register_observer(
            lambda _e, _p, variables, _c: self._security.update(variables), "rfc3412.receiveMessage:request"
        )

        def received(snmp_engine, state, _ctx_engine, _ctx_name, varbinds, _cb_ctx):  # type: ignore[no-untyped-def]
            _, address = snmp_engine.message_dispatcher.get_transport_info(state)
            deliver(str(address[0]), str(self._security.get("securityName", "")), int(self._security.get("securityLevel", 0)),
                    tuple((str(oid), value.prettyPrint()) for oid, value in varbinds))

        ntfrcv.NotificationReceiver(self.engine, received)

    def attach(self, transport: asyncio.DatagramTransport) -> None:
        """Answer (inform acks, USM reports) through the receiver's socket instead of a socket of pysnmp's own."""
        self.transport.connection_made(transport)

    def feed(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.datagram_received(data, addr)

    def rejected(self) -> int:
        """Notifications the USM refused (unknown user, wrong key, outside the time window)."""
        names = ("usmStatsUnknownUserNames", "usmStatsWrongDigests", "usmStatsDecryptionErrors",
                 "usmStatsNotInTimeWindows", "usmStatsUnsupportedSecLevels")
        symbols = self.engine.get_mib_builder().import_symbols("__SNMP-USER-BASED-SM-MIB", *names)
        return sum(int(symbol.syntax) for symbol in symbols)

    def close(self) -> None:
        self.engine.close_dispatcher()


class TrapReceiver:
    """Runtime service: listens on ``host:port`` (162 as root, else 1162 by default)."""

    name = "trap-receiver"

    def __init__(
        self, host: str, port: int, sources: SourceLookup, on_trap: TrapHandler, v3_users: list[V3User] | None = None
    ) -> None:
        self.host, self.port = host, port
        self.protocol = TrapProtocol(sources, on_trap)
        self._transport: asyncio.DatagramTransport | None = None
        self.v3_users = list(v3_users or ())

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: self.protocol, local_addr=(self.host, self.port)
        )
        self.port = self._transport.get_extra_info("sockname")[1]
        if self.v3_users:
            self.protocol.v3 = V3Notifications(self.v3_users, self.protocol._v3_notification)
            self.protocol.v3.attach(self._transport)

    async def stop(self) -> None:
        if self.protocol.v3 is not None:
            self.protocol.counts["bad_credentials_v3"] = self.protocol.v3.rejected()
            self.protocol.v3.close()
            self.protocol.v3 = None
        if self._transport is not None:
            self._transport.close()
