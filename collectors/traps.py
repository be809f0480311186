"""SNMPv2c trap decoding and meaning (pure): bytes in, a ``Trap`` or a precise reason out.

Traps make the NOC fast — a linkDown updates state at once and triggers a poll
— but they are also an open door: a trap from an address that is no device of
ours, or with the wrong community, is counted and dropped, never believed.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Collection

from pyasn1.codec.ber import decoder
from pyasn1.error import PyAsn1Error
from pysnmp.proto import api

SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1."
IF_DESCR = "1.3.6.1.2.1.2.2.1.2."
IF_INDEX = "1.3.6.1.2.1.2.2.1.1."
KINDS = {
    "1.3.6.1.6.3.1.1.5.1": "coldStart",
    "1.3.6.1.6.3.1.1.5.2": "warmStart",
    "1.3.6.1.6.3.1.1.5.3": "linkDown",
    "1.3.6.1.6.3.1.1.5.4": "linkUp",
}


class TrapError(ValueError):
    """Why a datagram was not accepted as a trap."""


@dataclass(frozen=True)
class Trap:
    community: str
    kind: str  # linkDown | linkUp | coldStart | warmStart | other
    trap_oid: str
    if_index: int | None
    if_name: str | None
    varbinds: tuple[tuple[str, str], ...]


def decode(datagram: bytes) -> Trap:
    """Decode an SNMPv2c SNMPv2-Trap-PDU; anything else raises TrapError with the reason."""
    try:
        version = int(api.decodeMessageVersion(datagram))
    except (PyAsn1Error, Exception) as exc:  # pysnmp raises its own error types for garbage
        raise TrapError(f"not an SNMP message ({exc.__class__.__name__})") from None
    if version != api.SNMP_VERSION_2C:
        raise TrapError(f"SNMP version {version + 1} trap not accepted here (v2c only)")
    proto = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    try:
        message, _ = decoder.decode(datagram, asn1Spec=proto.Message())
    except PyAsn1Error as exc:
        raise TrapError(f"malformed SNMPv2c message: {exc}") from None
    pdu = proto.apiMessage.get_pdu(message)
    if not pdu.isSameTypeWith(proto.SNMPv2TrapPDU()):
        raise TrapError(f"not a trap PDU ({pdu.__class__.__name__})")
    community = bytes(proto.apiMessage.get_community(message)).decode("utf-8", "replace")
    varbinds = tuple((str(oid), value.prettyPrint()) for oid, value in proto.apiTrapPDU.get_varbinds(pdu))
    return from_varbinds(community, varbinds)


def is_v3(datagram: bytes) -> bool:
    """True for an SNMPv3 message (pysnmp's engine and its USM take those); False for anything else."""
    try:
        return int(api.decodeMessageVersion(datagram)) == 3
    except Exception:  # garbage is the v2c path's to count and refuse
        return False


def from_varbinds(community: str, varbinds: tuple[tuple[str, str], ...]) -> Trap:
    """The meaning of a notification's varbinds, whatever carried them (v2c trap or v3 inform)."""
    trap_oid = next((v for o, v in varbinds if o == SNMP_TRAP_OID), "")
    if_index = None
    if_name = None
    for oid, value in varbinds:
        if oid.startswith(IF_INDEX):
            if_index = int(value) if value.isdigit() else None
        elif oid.startswith(IF_NAME) or (oid.startswith(IF_DESCR) and if_name is None):
            if_name = value
    return Trap(community, KINDS.get(trap_oid, "other"), trap_oid, if_index, if_name, varbinds)


def accept(trap: Trap, expected: str | Collection[str] | None) -> None:
    """Refuse a trap whose community is not one the network's devices were given for traps."""
    allowed = [expected] if isinstance(expected, str) else list(expected or ())
    if not allowed:
        raise TrapError("no v2c community configured for the sending device")
    # compare with every allowed value, in constant time each, so timing tells nothing
    matches = [hmac.compare_digest(trap.community.encode(), c.encode()) for c in allowed]
    if not any(matches):
        raise TrapError("wrong community")
