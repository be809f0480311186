"""The ``wangnet`` command: one entry point, a click group per area."""
from __future__ import annotations

import click

from wangnet.config import load_settings


@click.group()
@click.version_option(package_name="wangnet")
@click.pass_context
def main(ctx: click.Context) -> None:
    """wangnet — manage the 王-shaped e-government network."""
    ctx.ensure_object(dict)
    ctx.obj["settings"] = load_settings()


def _register() -> None:
    """Attach each area's command group (one module per group under wangnet/commands)."""
    from wangnet.commands import db, inventory, serve, topology, user

    for command in (inventory.inventory, topology.topology, user.user, db.db, serve.serve):
        main.add_command(command)


_register()
