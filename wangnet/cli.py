"""The ``wangnet`` command: one entry point, a click group per area."""
from __future__ import annotations

from pathlib import Path

import click

from wangnet.config import load_settings


@click.group()
@click.version_option(package_name="wangnet")
@click.pass_context
def main(ctx: click.Context) -> None:
    """wangnet — manage the 王-shaped e-government network."""
    ctx.ensure_object(dict)
    ctx.obj["settings"] = load_settings()


def inventory_option(func):  # type: ignore[no-untyped-def]
    """``--inventory FILE`` shared by every command that reads the network model."""
    return click.option(
        "--inventory",
        "inventory",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Inventory file (default: $WANGNET_INVENTORY or ./inventory.yaml).",
    )(func)


def _register() -> None:
    from wangnet.commands import inventory, topology

    main.add_command(inventory.inventory)
    main.add_command(topology.topology)
    try:
        from wangnet.commands import db, serve, user
    except ImportError:  # pragma: no cover - during bootstrap of the shell
        return
    main.add_command(db.db)
    main.add_command(user.user)
    main.add_command(serve.serve)


_register()
