"""SNMPv2c agents for every simulated device, one UDP port each, in one asyncio process.

The codec is pysnmp's (``pysnmp.proto.api``, already a dependency); the MIB
is ``lab/sim/mib.py``. A device that a failure cuts off from the city core
does not answer at all — the poller sees a timeout, as it would in life.
A wrong community is also met with silence, as net-snmp does.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from pyasn1.codec.ber import decoder, encoder
from pyasn1.error import PyAsn1Error
from pysnmp.proto import api

from lab.sim.mib import MibView

log = logging.getLogger(__name__)
V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
MAX_BULK_VARBINDS = 64  # keeps a GETBULK response well inside one UDP datagram
ERR_TOO_BIG = 1
ERR_NOT_WRITABLE = 17


def respond(request: bytes, community: bytes, view: MibView, now: float) -> bytes | None:
    """The response datagram for a request, or None when the agent stays silent (bad packet, wrong community)."""
    try:
        if int(api.decodeMessageVersion(request)) != api.SNMP_VERSION_2C:
            return None
        msg, _ = decoder.decode(request, asn1Spec=V2C.Message())
    except (PyAsn1Error, ValueError, TypeError):
        return None
    if bytes(V2C.apiMessage.get_community(msg)) != community:
        return None
    pdu = V2C.apiMessage.get_pdu(msg)
    rsp_msg = V2C.apiMessage.get_response(msg)
    rsp = V2C.apiMessage.get_pdu(rsp_msg)
    varbinds: list[tuple[Any, Any]] = []
    requested = V2C.apiPDU.get_varbinds(pdu)
    if pdu.isSameTypeWith(V2C.GetRequestPDU()):
        for oid, _ in requested:
            value = view.get(tuple(oid), now)
            varbinds.append((oid, value if value is not None else V2C.NoSuchInstance("")))
    elif pdu.isSameTypeWith(V2C.GetNextRequestPDU()):
        for oid, _ in requested:
            varbinds.append(_next(view, tuple(oid), now))
    elif pdu.isSameTypeWith(V2C.GetBulkRequestPDU()):
        non_rep = int(V2C.apiBulkPDU.get_non_repeaters(pdu))
        max_rep = int(V2C.apiBulkPDU.get_max_repetitions(pdu))
        for oid, _ in requested[:non_rep]:
            varbinds.append(_next(view, tuple(oid), now))
        cursors = [tuple(oid) for oid, _ in requested[non_rep:]]
        for _ in range(max(0, max_rep)):
            if not cursors or len(varbinds) + len(cursors) > MAX_BULK_VARBINDS:
                break
            row = [_next(view, c, now) for c in cursors]
            varbinds.extend(row)
            cursors = [tuple(oid) for oid, _ in row]
            if all(isinstance(value, type(V2C.EndOfMibView(""))) for _, value in row):
                break
    elif pdu.isSameTypeWith(V2C.SetRequestPDU()):
        varbinds = [(oid, value) for oid, value in requested]
        V2C.apiPDU.set_error_status(rsp, ERR_NOT_WRITABLE)
        V2C.apiPDU.set_error_index(rsp, 1)
    else:
        return None
    V2C.apiPDU.set_varbinds(rsp, varbinds)
    return encoder.encode(rsp_msg)  # type: ignore[no-any-return]


def _next(view: MibView, oid: tuple[int, ...], now: float) -> tuple[Any, Any]:
    found = view.next(oid, now)
    if found is None:
        return V2C.ObjectIdentifier(oid), V2C.EndOfMibView("")
    return V2C.ObjectIdentifier(found[0]), found[1]


class DeviceAgent(asyncio.DatagramProtocol):
    """The UDP end of one simulated device."""

    def __init__(self, device: str, community: bytes, view: MibView, clock: Callable[[], float],
                 answering: Callable[[str], bool]) -> None:
        self.device = device
        self.community = community
        self.view = view
        self.clock = clock
        self.answering = answering
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.answering(self.device):
            return
        try:
            reply = respond(data, self.community, self.view, self.clock())
        except Exception:  # a malformed request must never take the agent down
            log.exception("%s: cannot answer a request from %s", self.device, addr)
            return
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)
