"""Checks that need the whole inventory: references, uniqueness, tiers, address overlaps.

They run on the records that passed their own validation, so one broken
record does not hide the problems of the others. Each problem comes back as
``(line, message)``; the loader adds the file name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Iterable, Mapping, TypeVar

from topology.schema import MAX_SPEED_MBPS, Credential, Device, Link, Service, Site

T = TypeVar("T")
Found = list[tuple[int, str]]

_EXPECTED_PARENT = {"banner": "city", "township": "banner"}
_CREDENTIAL_KINDS = {"snmp": ("snmp-v2c", "snmp-v3"), "ssh": ("ssh",)}


@dataclass(frozen=True)
class Located(Generic[T]):
    """A record and where it was written; ``record`` is None when it failed its own validation.

    Broken records still take part in the checks that only need their id (or,
    for a device, its site), so a typo in one field does not also produce
    "unknown device" errors everywhere the device is referenced.
    """

    record: T | None
    line: int
    lines: Mapping[str, int] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str | None:
        if self.record is not None:
            return self.record.id  # type: ignore[attr-defined,no-any-return]
        rid = self.raw.get("id")
        return rid if isinstance(rid, str) else None

    def raw_str(self, key: str) -> str | None:
        """A raw string field of the record, valid or not."""
        value = getattr(self.record, key, None) if self.record is not None else self.raw.get(key)
        return value if isinstance(value, str) else None

    def at(self, path: str) -> int:
        """Line of a dotted field path (``"a.interface"``), else of the record."""
        return self.lines.get(path, self.line)


def _valid(items: Iterable[Located[T]]) -> list[tuple[Located[T], T]]:
    return [(item, item.record) for item in items if item.record is not None]


def cross_check(
    credentials: Mapping[str, Located[Credential]],
    sites: list[Located[Site]],
    devices: list[Located[Device]],
    links: list[Located[Link]],
    sites_line: int = 1,
    services: list[Located[Service]] | None = None,
) -> Found:
    """Every inter-record problem, unordered."""
    found: Found = []
    site_by_id = _unique(sites, "site", found)
    device_by_id = _unique(devices, "device", found)
    _unique(links, "link", found)
    _check_tiers(sites, site_by_id, sites_line, found)
    _check_devices(devices, site_by_id, credentials, found)
    _check_links(links, device_by_id, found)
    _check_overlaps(sites, links, found)
    _check_services(services or [], site_by_id, device_by_id, found)
    return found


def _unique(records: Iterable[Located[T]], kind: str, found: Found) -> dict[str, Located[T]]:
    first: dict[str, Located[T]] = {}
    for item in records:
        rid = item.id
        if rid is None:
            continue
        if rid in first:
            found.append((item.at("id"), f'duplicate {kind} id "{rid}" (first defined at line {first[rid].at("id")})'))
        else:
            first[rid] = item
    return first


def _check_tiers(sites: list[Located[Site]], by_id: Mapping[str, Located[Site]], sites_line: int, found: Found) -> None:
    cities = [s for s in sites if s.raw_str("tier") == "city"]
    if not cities and sites:
        found.append((sites_line, 'no site of tier "city"; the network needs exactly one city site'))
    for extra in cities[1:]:
        found.append((extra.at("tier"), f'site "{extra.id}": a second city site (the first is "{cities[0].id}" '
                      f"at line {cities[0].line}); the network has exactly one"))
    for item, site in _valid(sites):
        label = f'site "{site.id}"'
        if site.tier == "city":
            if site.parent is not None:
                found.append((item.at("parent"), f'{label}: a city site has no parent, but parent "{site.parent}" is given'))
            continue
        wanted = _EXPECTED_PARENT[site.tier]
        if site.parent is None:
            found.append((item.line, f"{label}: a {site.tier} site needs a parent (the {wanted} it belongs to)"))
        elif site.parent not in by_id:
            found.append((item.at("parent"), f'{label}: parent "{site.parent}" is not a defined site'))
        else:
            parent_tier = by_id[site.parent].raw_str("tier")
            if parent_tier in _EXPECTED_PARENT.values() or parent_tier == "township":
                if parent_tier != wanted:
                    found.append((item.at("parent"), f'{label}: parent "{site.parent}" is a {parent_tier}; '
                                  f"a {site.tier}'s parent must be a {wanted}"))


def _check_devices(
    devices: list[Located[Device]],
    sites: Mapping[str, Located[Site]],
    credentials: Mapping[str, Located[Credential]],
    found: Found,
) -> None:
    used_sites = {item.raw_str("site") for item in devices}
    cores_at = {item.raw_str("site") for item in devices if item.raw_str("role") == "core-router"}
    mgmt_first: dict[str, Located[Device]] = {}
    for item, dev in _valid(devices):
        label = f'device "{dev.id}"'
        if dev.site not in sites:
            found.append((item.at("site"), f'{label}: site "{dev.site}" is not a defined site'))
        mgmt = str(dev.mgmt)
        if mgmt in mgmt_first:
            other = mgmt_first[mgmt]
            found.append((item.at("mgmt"), f'{label}: management address {mgmt} is already used by device '
                          f'"{other.id}" (line {other.at("mgmt")})'))
        else:
            mgmt_first[mgmt] = item
        for attr, kinds in _CREDENTIAL_KINDS.items():
            ref = getattr(dev, attr)
            cred = credentials.get(ref)
            if cred is None:
                found.append((item.at(attr), f'{label}: {attr} credential "{ref}" is not defined under credentials'))
            elif cred.record is not None and cred.record.kind not in kinds:
                found.append((item.at(attr), f'{label}: {attr} credential "{ref}" is of kind {cred.record.kind}; '
                              f"expected {' or '.join(kinds)}"))
        seen: set[str] = set()
        for index, name in enumerate(dev.interfaces):
            if name in seen:
                found.append((item.at(f"interfaces.{index}"), f'{label}: interface "{name}" is listed twice'))
            seen.add(name)
    for site_id, item in sites.items():
        if site_id not in used_sites:
            found.append((item.line, f'site "{site_id}": no device is located at this site'))
        elif item.raw_str("tier") == "city" and site_id not in cores_at:
            found.append((item.line, f'site "{site_id}": the city site has no core-router, so nothing can reach the network'))


def _check_links(links: list[Located[Link]], devices: Mapping[str, Located[Device]], found: Found) -> None:
    in_use: dict[tuple[str, str], Located[Link]] = {}
    for item, link in _valid(links):
        label = f'link "{link.id}"'
        if not 0 < link.speed_mbps <= MAX_SPEED_MBPS:
            found.append((item.at("speed_mbps"), f"{label}: speed_mbps {link.speed_mbps} is not a plausible speed "
                          f"(expected 1 to {MAX_SPEED_MBPS} Mbit/s)"))
        if link.a.device == link.b.device:
            found.append((item.line, f'{label}: both endpoints are on device "{link.a.device}"'))
        for side in ("a", "b"):
            end = getattr(link, side)
            dev = devices.get(end.device)
            if dev is None:
                found.append((item.at(f"{side}.device"), f'{label}: endpoint {side} names unknown device "{end.device}"'))
                continue
            if dev.record is None:
                continue
            if end.interface not in dev.record.interfaces:
                found.append((item.at(f"{side}.interface"), f'{label}: endpoint {side} names unknown interface '
                              f'"{end.interface}" on device "{end.device}"'))
                continue
            key = (end.device, end.interface)
            if key in in_use:
                other = in_use[key]
                where = "the other endpoint" if other is item else f'link "{other.id}" (line {other.line})'
                found.append((item.at(f"{side}.interface"), f'{label}: endpoint {side} uses interface "{end.interface}" '
                              f'on device "{end.device}", already used by {where}'))
            else:
                in_use[key] = item


def _check_overlaps(sites: list[Located[Site]], links: list[Located[Link]], found: Found) -> None:
    """Sweep the address blocks in address order; each block is compared with the widest before it."""
    blocks: list[tuple[int, int, int, str]] = []
    for item, site in _valid(sites):
        lan = site.lan
        blocks.append((int(lan.network_address), int(lan.broadcast_address), item.at("lan"), f'site "{site.id}" lan {lan}'))
    for item, link in _valid(links):
        net = link.subnet
        blocks.append((int(net.network_address), int(net.broadcast_address), item.at("subnet"),
                       f'link "{link.id}" subnet {net}'))
    blocks.sort(key=lambda b: (b[0], -b[1], b[2]))
    widest: tuple[int, int, int, str] | None = None
    for block in blocks:
        if widest is not None and block[0] <= widest[1]:
            first, second = sorted((widest, block), key=lambda b: b[2])
            found.append((second[2], f"{second[3]} overlaps {first[3]} (line {first[2]})"))
        if widest is None or block[1] > widest[1]:
            widest = block


def _check_services(
    services: list[Located[Service]],
    sites: Mapping[str, Located[Site]],
    devices: Mapping[str, Located[Device]],
    found: Found,
) -> None:
    _unique(services, "service", found)
    for item, svc in _valid(services):
        label = f'service "{svc.id}"'
        site = sites.get(svc.site)
        if site is None:
            found.append((item.at("site"), f'{label}: site "{svc.site}" is not a defined site'))
        dev = devices.get(svc.device)
        if dev is None:
            found.append((item.at("device"), f'{label}: device "{svc.device}" is not a defined device'))
        elif dev.raw_str("site") != svc.site:
            found.append((item.at("device"), f'{label}: device "{svc.device}" is at site "{dev.raw_str("site")}", '
                          f'not at "{svc.site}"'))
        if site is not None and site.record is not None and svc.address not in site.record.lan:
            found.append((item.at("address"), f"{label}: address {svc.address} is outside the LAN {site.record.lan} "
                          f'of site "{svc.site}"'))
