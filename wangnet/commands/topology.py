"""``wangnet topology``: questions about the network answered from the inventory alone.

The ``--json`` shapes are a contract (scripts and checks rely on them);
the plain output is for people.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, TypeVar

import click
import networkx as nx

from topology.analysis import (
    TIER_ORDER,
    Impact,
    NoPath,
    Path as NetPath,
    devices_of_site,
    impact_of_device,
    impact_of_link,
    path_between,
    single_points_of_failure,
)
from topology.graph import build_graph
from topology.schema import TIERS, Inventory
from wangnet.commands.options import inventory_option
from wangnet.commands.inventory import load_or_exit, resolve_inventory_path

F = TypeVar("F", bound=Callable[..., Any])


def _json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(func)  # type: ignore[return-value]


def _emit(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _load(ctx: click.Context, path: Path | None) -> tuple[Inventory, nx.MultiGraph]:
    inv = load_or_exit(resolve_inventory_path(ctx, path))
    return inv, build_graph(inv)


def _table(rows: list[list[str]], header: list[str]) -> None:
    """Print rows as left-aligned columns, numbers right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [str(c).rjust(w) if str(c).isdigit() else str(c).ljust(w) for c, w in zip(row, widths)]
        click.echo("  ".join(cells).rstrip())


@click.group()
def topology() -> None:
    """Summaries, failure impact, single points of failure and paths."""


@topology.command()
@inventory_option
@_json_option
@click.pass_context
def summary(ctx: click.Context, inventory: Path | None, as_json: bool) -> None:
    """Count sites by tier, devices and links."""
    inv, _ = _load(ctx, inventory)
    tiers = {tier: sum(1 for s in inv.sites if s.tier == tier) for tier in TIERS}
    data = {"sites": tiers, "devices": len(inv.devices), "links": len(inv.links)}
    if as_json:
        _emit(data)
        return
    click.echo(f"sites    {len(inv.sites)} (" + ", ".join(f"{t} {n}" for t, n in tiers.items()) + ")")
    click.echo(f"devices  {len(inv.devices)}")
    click.echo(f"links    {len(inv.links)}")


@topology.command()
@inventory_option
@_json_option
@click.pass_context
def links(ctx: click.Context, inventory: Path | None, as_json: bool) -> None:
    """List every link with its ends and speed."""
    inv, _ = _load(ctx, inventory)
    site_of = {d.id: d.site for d in inv.devices}
    data = [
        {
            "id": link.id,
            "a_device": link.a.device,
            "a_site": site_of[link.a.device],
            "b_device": link.b.device,
            "b_site": site_of[link.b.device],
            "speed_mbps": link.speed_mbps,
            "medium": link.medium,
        }
        for link in inv.links
    ]
    if as_json:
        _emit(data)
        return
    keys = ["id", "a_device", "a_site", "b_device", "b_site", "speed_mbps", "medium"]
    _table([[str(row[k]) for k in keys] for row in data], ["ID", "A DEVICE", "A SITE", "B DEVICE", "B SITE", "MBIT/S", "MEDIUM"])


def _impact_json(impact: Impact) -> dict[str, list[str]]:
    return {"cut_off_sites": list(impact.cut_off_sites), "cut_off_devices": list(impact.cut_off_devices)}


@topology.command()
@click.option("--link", "link_id", help="Id of the link that fails.")
@click.option("--device", "device_id", help="Id of the device that fails.")
@inventory_option
@_json_option
@click.pass_context
def impact(ctx: click.Context, link_id: str | None, device_id: str | None, inventory: Path | None, as_json: bool) -> None:
    """What one failed link or device cuts off from the city core."""
    if (link_id is None) == (device_id is None):
        raise click.UsageError("give exactly one of --link ID or --device ID")
    _, g = _load(ctx, inventory)
    try:
        result = impact_of_link(g, link_id) if link_id is not None else impact_of_device(g, device_id)  # type: ignore[arg-type]
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    if as_json:
        _emit(_impact_json(result))
        return
    what = f"link {link_id}" if link_id is not None else f"device {device_id}"
    if result.is_empty():
        click.echo(f"{what}: cuts nothing off (there is another way to the city core)")
        return
    click.echo(f"{what}: cuts off {len(result.cut_off_sites)} sites, {len(result.cut_off_devices)} devices")
    click.echo("  sites:   " + " ".join(result.cut_off_sites))
    click.echo("  devices: " + " ".join(result.cut_off_devices))


@topology.command()
@inventory_option
@_json_option
@click.pass_context
def spof(ctx: click.Context, inventory: Path | None, as_json: bool) -> None:
    """Links and devices whose failure alone cuts something off, by tier."""
    _, g = _load(ctx, inventory)
    result = single_points_of_failure(g)
    data = {
        kind: [{"id": e.id, "tier": e.tier, **_impact_json(e.impact)} for e in entries]
        for kind, entries in (("links", result.links), ("devices", result.devices))
    }
    if as_json:
        _emit(data)
        return
    for tier, kinds in sorted(result.by_tier().items(), key=lambda kv: TIER_ORDER.get(kv[0], 99)):
        click.echo(f"{tier}:")
        rows = [["  " + kind[:-1], e.id, str(len(e.impact.cut_off_sites)), str(len(e.impact.cut_off_devices))]
                for kind, entries in kinds.items() for e in entries]
        _table(rows, ["  KIND", "ID", "SITES CUT", "DEVICES CUT"])


def _endpoints(inv: Inventory, g: nx.MultiGraph, name: str) -> list[str]:
    """A device id stands for itself; a site id for all of its devices."""
    if name in g:
        return [name]
    try:
        return devices_of_site(inv, name)
    except KeyError:
        raise click.ClickException(f'"{name}" is neither a device nor a site') from None


@topology.command()
@click.argument("a")
@click.argument("b")
@inventory_option
@_json_option
@click.pass_context
def path(ctx: click.Context, a: str, b: str, inventory: Path | None, as_json: bool) -> None:
    """Route from A to B (site or device ids): fewest hops, then fastest links."""
    inv, g = _load(ctx, inventory)
    try:
        route: NetPath = path_between(g, _endpoints(inv, g, a), _endpoints(inv, g, b))
    except NoPath as exc:
        raise click.ClickException(f"no path from {a} to {b}: {exc}") from None
    data = {"from": a, "to": b, "devices": list(route.devices), "links": list(route.links),
            "hops": route.hops, "bottleneck_mbps": route.bottleneck_mbps}
    if as_json:
        _emit(data)
        return
    click.echo(f"{a} -> {b}: {route.hops} hops, bottleneck {route.bottleneck_mbps} Mbit/s")
    click.echo("  " + " -> ".join(route.devices))
    for link_id in route.links:
        u, v = g.graph["link_ends"][link_id]
        attrs = g.edges[u, v, link_id]
        click.echo(f"  {link_id}  {attrs['speed_mbps']} Mbit/s {attrs['medium']}")


COMMANDS = (topology,)
