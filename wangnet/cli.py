"""The ``wangnet`` command: one entry point, a click group per area."""
from __future__ import annotations

import importlib
import pkgutil

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
    """Attach every command that a module of ``wangnet.commands`` lists in ``COMMANDS``.

    Each area ships its commands in its own module there, so adding an area
    never means editing this file.
    """
    import wangnet.commands as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for command in getattr(module, "COMMANDS", ()):
            main.add_command(command)


_register()
