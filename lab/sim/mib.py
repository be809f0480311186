"""The MIB view of a simulated device: SNMPv2-MIB system group, IF-MIB ifTable and ifXTable.

Each object is an OID and a function of time, kept sorted so GETNEXT/GETBULK
are a bisection. Values are pysnmp's SMI types; nothing here does I/O.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any, Callable

from pysnmp.proto.rfc1902 import Counter32, Counter64, Gauge32, Integer, ObjectIdentifier, OctetString, TimeTicks

from lab.sim.model import AVERAGE_PACKET_BYTES, ERROR_EVERY_BYTES, MAX_COUNTER32, Port, SimDevice

Oid = tuple[int, ...]
Getter = Callable[[float], Any]

SYSTEM = (1, 3, 6, 1, 2, 1, 1)
IF_NUMBER = (1, 3, 6, 1, 2, 1, 2, 1, 0)
IF_ENTRY = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IFX_ENTRY = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
NET_SNMP_LINUX = (1, 3, 6, 1, 4, 1, 8072, 3, 2, 10)

DESCR = {
    "ios": "Cisco IOS Software, {model} (wangnet simulation)",
    "huawei_vrp": "Huawei Versatile Routing Platform Software, {model} (wangnet simulation)",
    "h3c_comware": "H3C Comware Platform Software, {model} (wangnet simulation)",
    "linux": "Linux {id} {model} (wangnet simulation)",
}


def _ticks(seconds: float) -> TimeTicks:
    return TimeTicks(int(seconds * 100) % 2**32)


@dataclass
class MibView:
    """Sorted OIDs of one device and the functions that give their values at a time."""

    oids: list[Oid]
    getters: list[Getter]

    def get(self, oid: Oid, now: float) -> Any | None:
        i = bisect.bisect_left(self.oids, oid)
        if i < len(self.oids) and self.oids[i] == oid:
            return self.getters[i](now)
        return None

    def next(self, oid: Oid, now: float) -> tuple[Oid, Any] | None:
        i = bisect.bisect_right(self.oids, oid)
        if i < len(self.oids):
            return self.oids[i], self.getters[i](now)
        return None


def _port_columns(port: Port) -> list[tuple[Oid, int, Getter]]:
    """(table entry, column, getter) of one interface."""
    serial = port.name.lower().startswith("serial")
    octets = port.octets

    def col(fn: Callable[[tuple[int, int]], Any]) -> Getter:
        return lambda now: fn(octets(now))

    return [
        (IF_ENTRY, 1, lambda now: Integer(port.index)),
        (IF_ENTRY, 2, lambda now: OctetString(port.name)),
        (IF_ENTRY, 3, lambda now: Integer(18 if serial else 6)),
        (IF_ENTRY, 4, lambda now: Integer(1500)),
        (IF_ENTRY, 5, lambda now: Gauge32(min(port.speed_mbps * 1_000_000, 2**32 - 1))),
        (IF_ENTRY, 6, lambda now: OctetString(bytes([2, 0x57, 0x4E, 0, (port.index >> 8) & 0xFF, port.index & 0xFF]))),
        (IF_ENTRY, 7, lambda now: Integer(1 if port.kind != "spare" else 2)),
        (IF_ENTRY, 8, lambda now: Integer(1 if port.up else 2)),
        (IF_ENTRY, 9, lambda now: _ticks(port.last_change)),
        (IF_ENTRY, 10, col(lambda o: Counter32(o[0] % MAX_COUNTER32))),
        (IF_ENTRY, 11, col(lambda o: Counter32(o[0] // AVERAGE_PACKET_BYTES % MAX_COUNTER32))),
        (IF_ENTRY, 13, lambda now: Counter32(0)),
        (IF_ENTRY, 14, col(lambda o: Counter32(o[0] // ERROR_EVERY_BYTES % MAX_COUNTER32))),
        (IF_ENTRY, 16, col(lambda o: Counter32(o[1] % MAX_COUNTER32))),
        (IF_ENTRY, 17, col(lambda o: Counter32(o[1] // AVERAGE_PACKET_BYTES % MAX_COUNTER32))),
        (IF_ENTRY, 19, lambda now: Counter32(0)),
        (IF_ENTRY, 20, lambda now: Counter32(0)),
        (IFX_ENTRY, 1, lambda now: OctetString(port.name)),
        (IFX_ENTRY, 6, col(lambda o: Counter64(o[0]))),
        (IFX_ENTRY, 7, col(lambda o: Counter64(o[0] // AVERAGE_PACKET_BYTES))),
        (IFX_ENTRY, 10, col(lambda o: Counter64(o[1]))),
        (IFX_ENTRY, 11, col(lambda o: Counter64(o[1] // AVERAGE_PACKET_BYTES))),
        (IFX_ENTRY, 15, lambda now: Gauge32(port.speed_mbps)),
        (IFX_ENTRY, 18, lambda now: OctetString(port.link or port.kind)),
    ]


def build_view(dev: SimDevice) -> MibView:
    descr = DESCR.get(dev.platform, "{model} (wangnet simulation)").format(model=dev.model, id=dev.id)
    rows: list[tuple[Oid, Getter]] = [
        (SYSTEM + (1, 0), lambda now: OctetString(descr)),
        (SYSTEM + (2, 0), lambda now: ObjectIdentifier(NET_SNMP_LINUX)),
        (SYSTEM + (3, 0), _ticks),
        (SYSTEM + (4, 0), lambda now: OctetString("noc@wangnet.sim")),
        (SYSTEM + (5, 0), lambda now: OctetString(dev.id)),
        (SYSTEM + (6, 0), lambda now: OctetString(dev.site)),
        (SYSTEM + (7, 0), lambda now: Integer(78)),
        (IF_NUMBER, lambda now: Integer(len(dev.ports))),
    ]
    for port in dev.ports:
        rows += [(entry + (column, port.index), getter) for entry, column, getter in _port_columns(port)]
    rows.sort(key=lambda r: r[0])
    return MibView([r[0] for r in rows], [r[1] for r in rows])
