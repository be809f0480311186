"""From the inventory to a lab plan: namespaces, cables, addresses and host routes.

Pure: an ``Inventory`` in, a frozen ``LabPlan`` out. Nothing here touches the
machine, so the whole layout is unit-tested without root; ``lab/netns.py``
turns the plan into ``ip``/``tc`` commands.

The shape of the lab:

* one network namespace per device (``wn-<device id>``), its management
  address as a /32 on ``lo``;
* one *wire* namespace (``wn-wire``) holding the far end of every cable: each
  device interface is a veth whose peer sits in the wire namespace, and a
  link's two peers are joined there by ``tc mirred`` redirects. Cutting a link
  sets its two wire ends down, so both device ends lose carrier — ifOperStatus
  down(2) while ifAdminStatus stays up(1), as a cut fibre looks — and LLDP
  frames pass unchanged (a Linux bridge would swallow them);
* the link speed as a ``tbf`` on each wire end (one per direction);
* each router's first interface without a link carries its site's LAN
  gateway (a LAN with hosts: carrier up); other spare interfaces have no
  cable (carrier down);
* one veth from the host into the city core (``wn-mgmt`` ↔ ``mgmt0``), with
  host routes for the inventory's address plan through it: the NOC's path.
"""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, collapse_addresses
from typing import Iterable, Literal

from topology.schema import Device, Inventory

PREFIX = "wn-"
WIRE_NETNS = f"{PREFIX}wire"
HOST_IF = f"{PREFIX}mgmt"
CORE_MGMT_IF = "mgmt0"
DEFAULT_MGMT_SUBNET = IPv4Network("10.255.255.252/30")
ROUTER_ROLES = ("core-router", "router")

IfaceKind = Literal["link", "lan", "spare"]


class PlanError(ValueError):
    """The inventory (or the ``--only`` selection) cannot be built as a lab; the message says why."""


@dataclass(frozen=True)
class Iface:
    """One interface of a device namespace and its cable's far end in the wire namespace."""

    name: str
    kind: IfaceKind
    wire_end: str
    address: IPv4Interface | None = None
    link: str | None = None
    speed_mbps: int | None = None


@dataclass(frozen=True)
class Node:
    """A device as the lab builds it."""

    device: str
    netns: str
    site: str
    role: str
    platform: str
    model: str
    mgmt: IPv4Address
    snmp_cred: str
    ssh_cred: str
    interfaces: tuple[Iface, ...]

    def iface(self, name: str) -> Iface:
        for iface in self.interfaces:
            if iface.name == name:
                return iface
        raise KeyError(f'{self.device} has no interface "{name}"')


@dataclass(frozen=True)
class Wire:
    """A link: its two ends in the wire namespace, joined by mirred, shaped by tbf."""

    link: str
    a_end: str
    b_end: str
    a_device: str
    b_device: str
    speed_mbps: int


@dataclass(frozen=True)
class MgmtPath:
    """The NOC's way in: a host veth into the city core, and host routes through it."""

    host_if: str
    host_addr: IPv4Interface
    core_device: str
    core_if: str
    core_addr: IPv4Interface
    routes: tuple[IPv4Network, ...]


@dataclass(frozen=True)
class LabPlan:
    """Everything ``lab up`` builds, by name."""

    nodes: tuple[Node, ...]
    wires: tuple[Wire, ...]
    mgmt: MgmtPath
    wire_netns: str = WIRE_NETNS

    def node(self, device: str) -> Node:
        for node in self.nodes:
            if node.device == device:
                return node
        raise KeyError(f'device "{device}" is not in the lab')

    def wire(self, link: str) -> Wire:
        for wire in self.wires:
            if wire.link == link:
                return wire
        raise KeyError(f'link "{link}" is not in the lab')

    @property
    def netns_names(self) -> tuple[str, ...]:
        """Every namespace the lab owns, the wire namespace first."""
        return (self.wire_netns, *(n.netns for n in self.nodes))


def netns_name(device_id: str) -> str:
    return f"{PREFIX}{device_id}"


def select_sites(inv: Inventory, only: Iterable[str] = ()) -> list[str]:
    """Sites to build: all, or the named ones with their townships, always with the city tier.

    The NOC sits at the city core, so a partial lab without it could not be reached.
    """
    wanted = list(only)
    if not wanted:
        return [s.id for s in inv.sites]
    chosen: set[str] = {s.id for s in inv.sites if s.tier == "city"}
    for site_id in wanted:
        try:
            inv.site(site_id)
        except KeyError as exc:
            raise PlanError(str(exc.args[0])) from None
        chosen.add(site_id)
        chosen.update(c.id for c in inv.children(site_id))
    return [s.id for s in inv.sites if s.id in chosen]


def _link_hosts(subnet: IPv4Network) -> tuple[IPv4Interface, IPv4Interface]:
    """End a gets the first host address of the link subnet, end b the second."""
    hosts = list(subnet.hosts())
    if len(hosts) < 2:
        raise PlanError(f"link subnet {subnet} has fewer than two host addresses")
    return (IPv4Interface(f"{hosts[0]}/{subnet.prefixlen}"), IPv4Interface(f"{hosts[1]}/{subnet.prefixlen}"))


def _lan_gateways(inv: Inventory, devices: list[Device], linked: set[tuple[str, str]]) -> dict[tuple[str, str], IPv4Interface]:
    """(device, interface) -> LAN gateway address: the first spare port of each site's first router."""
    out: dict[tuple[str, str], IPv4Interface] = {}
    done: set[str] = set()
    for dev in devices:
        if dev.site in done or dev.role not in ROUTER_ROLES:
            continue
        spare = [name for name in dev.interfaces if (dev.id, name) not in linked]
        if not spare:
            continue
        lan = inv.site(dev.site).lan
        out[(dev.id, spare[0])] = IPv4Interface(f"{next(lan.hosts())}/{lan.prefixlen}")
        done.add(dev.site)
    return out


def build_plan(inv: Inventory, only: Iterable[str] = (), mgmt_subnet: IPv4Network = DEFAULT_MGMT_SUBNET) -> LabPlan:
    """Lay out the lab for the inventory (or the ``only`` sites)."""
    sites = set(select_sites(inv, only))
    devices = [d for d in inv.devices if d.site in sites]
    ids = {d.id for d in devices}
    links = [link for link in inv.links if link.a.device in ids and link.b.device in ids]

    wires: list[Wire] = []
    by_end: dict[tuple[str, str], Iface] = {}
    for n, link in enumerate(links):
        addr_a, addr_b = _link_hosts(link.subnet)
        wire = Wire(link.id, f"l{n}a", f"l{n}b", link.a.device, link.b.device, link.speed_mbps)
        wires.append(wire)
        by_end[(link.a.device, link.a.interface)] = Iface(link.a.interface, "link", wire.a_end, addr_a, link.id, link.speed_mbps)
        by_end[(link.b.device, link.b.interface)] = Iface(link.b.interface, "link", wire.b_end, addr_b, link.id, link.speed_mbps)

    lans = _lan_gateways(inv, devices, set(by_end))
    nodes: list[Node] = []
    spare_no = 0
    for dev in devices:
        ifaces: list[Iface] = []
        for name in dev.interfaces:
            if (dev.id, name) in by_end:
                ifaces.append(by_end[(dev.id, name)])
            else:
                kind: IfaceKind = "lan" if (dev.id, name) in lans else "spare"
                ifaces.append(Iface(name, kind, f"s{spare_no}", lans.get((dev.id, name))))
                spare_no += 1
        nodes.append(Node(dev.id, netns_name(dev.id), dev.site, dev.role, dev.platform, dev.model, dev.mgmt,
                          dev.snmp, dev.ssh, tuple(ifaces)))

    return LabPlan(tuple(nodes), tuple(wires), _mgmt_path(inv, devices, links, sites, mgmt_subnet, nodes))


def _mgmt_path(inv: Inventory, devices: list[Device], links: list, sites: set[str], subnet: IPv4Network,
               nodes: list[Node]) -> MgmtPath:
    cores = [d for d in devices if d.role == "core-router" and inv.site(d.site).tier == "city"]
    if not cores:
        raise PlanError("the inventory has no city core-router: the NOC's management path needs one")
    for name in (CORE_MGMT_IF,):
        if any(i.name == name for i in nodes[devices.index(cores[0])].interfaces):
            raise PlanError(f"{cores[0].id} already has an interface named {name}")
    plan_nets = [IPv4Network(f"{d.mgmt}/32") for d in devices]
    plan_nets += [link.subnet for link in links]
    plan_nets += [inv.site(s).lan for s in sites]
    clash = [str(n) for n in plan_nets if n.overlaps(subnet)]
    if clash:
        raise PlanError(f"management subnet {subnet} overlaps the inventory's address plan ({', '.join(clash[:3])})")
    if subnet.num_addresses < 4:
        raise PlanError(f"management subnet {subnet} is too small (need a /30 or larger)")
    host_addr, core_addr = _link_hosts(subnet)
    routes = tuple(collapse_addresses(plan_nets))
    return MgmtPath(HOST_IF, host_addr, cores[0].id, CORE_MGMT_IF, core_addr, routes)
