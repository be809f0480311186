"""Pydantic models of the inventory: the one description of the network.

Each record model checks only what can be judged from the record alone
(types, enumerations, id and interface-name syntax). Checks that need the
whole inventory (references, duplicates, overlaps) live in ``checks.py`` so
that every broken record can be reported at once, with its line number.
"""
from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints

TIERS: tuple[str, ...] = ("city", "banner", "township")
"""Tiers from the top of 王 down; a site's parent is always one tier up."""

ROLES: tuple[str, ...] = ("core-router", "router", "switch")
PLATFORMS: tuple[str, ...] = ("ios", "huawei_vrp", "h3c_comware", "linux")
CREDENTIAL_KINDS: tuple[str, ...] = ("snmp-v2c", "snmp-v3", "ssh")

MAX_SPEED_MBPS = 400_000
"""Anything faster than a 400G port is a typo, not a link."""

Tier = Literal["city", "banner", "township"]
Role = Literal["core-router", "router", "switch"]
Platform = Literal["ios", "huawei_vrp", "h3c_comware", "linux"]

# Ids end up in device names, URLs and Prometheus labels: keep them boring.
Ident = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", max_length=63)]
# Linux IFNAMSIZ is 16 including the NUL; '/' and whitespace are not allowed by the kernel.
InterfaceName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,14}$")]
NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class _Record(BaseModel):
    """Common config: unknown keys are errors, records are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Credential(_Record):
    """A credential *reference*: what kind it is, never the secret itself."""

    kind: Literal["snmp-v2c", "snmp-v3", "ssh"]
    auth_protocol: Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512"] | None = None
    priv_protocol: Literal["des", "3des", "aes", "aes192", "aes256"] | None = None


class Site(_Record):
    """A place on the 王: the city platform, a banner, or a township."""

    id: Ident
    name: NonEmpty
    name_en: NonEmpty
    tier: Tier
    parent: Ident | None = None
    lan: IPv4Network
    departments: list[NonEmpty] = Field(default_factory=list)


class Device(_Record):
    """A managed box; ``platform`` selects the NAPALM driver."""

    id: Ident
    site: Ident
    role: Role
    platform: Platform
    model: NonEmpty
    mgmt: IPv4Address
    snmp: Ident
    ssh: Ident
    interfaces: list[InterfaceName]


class Endpoint(_Record):
    """One end of a link: a device and one of its listed interfaces."""

    device: Ident
    interface: InterfaceName


class Link(_Record):
    """A point-to-point link between two device interfaces."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", max_length=127)]
    a: Endpoint
    b: Endpoint
    speed_mbps: int
    medium: NonEmpty
    subnet: IPv4Network


ServiceKind = Literal["tcp", "http", "smtp"]


class Service(_Record):
    """An e-government application the NOC checks: portal, OA, document exchange, mail, VOD, SIP.

    It runs on a server in a site's LAN hanging off ``device`` (usually the
    site's switch), so a failure upstream of that device makes the service
    unreachable-behind-X rather than down.
    """

    id: Ident
    name: NonEmpty
    kind: ServiceKind
    site: Ident
    device: Ident
    address: IPv4Address
    port: Annotated[int, Field(ge=1, le=65535)]
    path: str = "/"


class Inventory(BaseModel):
    """The validated network; build it with ``topology.loader.load_inventory``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    credentials: dict[str, Credential] = Field(default_factory=dict)
    sites: list[Site]
    devices: list[Device]
    links: list[Link]
    services: list[Service] = Field(default_factory=list)

    _sites: dict[str, Site] = PrivateAttr(default_factory=dict)
    _devices: dict[str, Device] = PrivateAttr(default_factory=dict)
    _links: dict[str, Link] = PrivateAttr(default_factory=dict)
    _by_site: dict[str, list[Device]] = PrivateAttr(default_factory=dict)
    _children: dict[str, list[Site]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, __context: object) -> None:
        self._sites = {s.id: s for s in self.sites}
        self._devices = {d.id: d for d in self.devices}
        self._links = {link.id: link for link in self.links}
        for d in self.devices:
            self._by_site.setdefault(d.site, []).append(d)
        for s in self.sites:
            if s.parent is not None:
                self._children.setdefault(s.parent, []).append(s)

    def site(self, site_id: str) -> Site:
        """The site with this id; KeyError names the id when there is none."""
        try:
            return self._sites[site_id]
        except KeyError:
            raise KeyError(f'unknown site "{site_id}"') from None

    def device(self, device_id: str) -> Device:
        """The device with this id; KeyError names the id when there is none."""
        try:
            return self._devices[device_id]
        except KeyError:
            raise KeyError(f'unknown device "{device_id}"') from None

    def link(self, link_id: str) -> Link:
        """The link with this id; KeyError names the id when there is none."""
        try:
            return self._links[link_id]
        except KeyError:
            raise KeyError(f'unknown link "{link_id}"') from None

    def devices_at(self, site_id: str) -> list[Device]:
        """Devices located at a site, in file order."""
        self.site(site_id)
        return list(self._by_site.get(site_id, []))

    def children(self, site_id: str) -> list[Site]:
        """Sites one tier below this one (a banner's townships), in file order."""
        self.site(site_id)
        return list(self._children.get(site_id, []))
