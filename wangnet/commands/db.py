"""``wangnet db``: schema migrations."""
from __future__ import annotations

import click

from wangnet.store import Store


@click.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.argument("revision", default="heads")
@click.pass_context
def upgrade(ctx: click.Context, revision: str) -> None:
    """Create or migrate the database to REVISION (default: heads, every area's branch)."""
    store = Store.from_settings(ctx.obj["settings"])
    store.upgrade(revision)
    click.echo(f"database at {revision}: {_redact(store.url)}")


def _redact(url: str) -> str:
    """Database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


COMMANDS = (db,)
