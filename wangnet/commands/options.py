"""Options shared by several command groups."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def inventory_option(func: F) -> F:
    """``--inventory FILE`` on every command that reads the network model."""
    return click.option(
        "--inventory",
        "inventory",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Inventory file (default: $WANGNET_INVENTORY or ./inventory.yaml).",
    )(func)
