"""``wangnet inventory``: check the network model before anything else trusts it."""
from __future__ import annotations

from pathlib import Path

import click

from topology.loader import InventoryError, load_inventory
from topology.schema import Inventory
from wangnet.commands.options import inventory_option


def resolve_inventory_path(ctx: click.Context, *candidates: Path | None) -> Path:
    """The first path given on the command line, else the settings' inventory path."""
    for candidate in candidates:
        if candidate is not None:
            return candidate
    settings = (ctx.find_root().obj or {}).get("settings")
    return settings.inventory_path if settings is not None else Path("inventory.yaml")


def load_or_exit(path: Path) -> Inventory:
    """Load the inventory, or print every problem as FILE:LINE: message on stderr and exit 1."""
    try:
        return load_inventory(path)
    except InventoryError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
    except OSError as exc:
        click.echo(f"{path}: cannot read the inventory: {exc.strerror or exc}", err=True)
    raise SystemExit(1)


@click.group()
def inventory() -> None:
    """Check the inventory (sites, devices, links, address plan)."""


@inventory.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@inventory_option
@click.pass_context
def check(ctx: click.Context, file: Path | None, inventory: Path | None) -> None:
    """Validate FILE (default: the configured inventory) and report every problem with its line."""
    path = resolve_inventory_path(ctx, file, inventory)
    inv = load_or_exit(path)
    click.echo(f"{path}: OK — {len(inv.sites)} sites, {len(inv.devices)} devices, {len(inv.links)} links")


COMMANDS = (inventory,)
