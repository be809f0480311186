"""``wangnet backup FILE`` / ``wangnet restore FILE``: the database, config backups and VOD media (wangnet/backup.py)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from wangnet.backup import BackupError, restore_backup, write_backup
from wangnet.store import Store


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def backup(ctx: click.Context, file: Path) -> None:
    """Write FILE: every table (config backups included) and the VOD directory, portable between SQLite and PostgreSQL."""
    settings = ctx.obj["settings"]
    store = Store.from_settings(settings)
    try:
        summary = write_backup(store, settings.resolved_vod_dir, file)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.dispose()
    click.echo(f"backup written: {summary.path} (schema {', '.join(summary.revisions)}; "
               f"{sum(summary.rows.values())} rows in {len(summary.rows)} tables; "
               f"{summary.media_files} media files, {summary.media_bytes / 1e6:.1f} MB)")


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the database and the VOD directory.")
@click.pass_context
def restore(ctx: click.Context, file: Path, yes: bool) -> None:
    """Replace the database's rows and the VOD directory with FILE's (stop the services first)."""
    settings = ctx.obj["settings"]
    if not yes:
        click.confirm(f"Replace every row of the database and {settings.resolved_vod_dir} with {file}?", abort=True)
    store = Store.from_settings(settings)
    try:
        summary = restore_backup(store, settings.resolved_vod_dir, file)
        _reindex_vod(settings, store)
    except BackupError as exc:
        raise click.ClickException(f"restore refused, nothing changed: {exc}") from None
    finally:
        store.dispose()
    click.echo(f"restored {file}: schema {', '.join(summary.revisions)}; {sum(summary.rows.values())} rows; "
               f"{summary.media_files} media files")


def _reindex_vod(settings, store: Store) -> None:  # type: ignore[no-untyped-def]
    """The VOD search index is derived from the episodes table and not archived: rebuild it."""
    if importlib.util.find_spec("vod") is None:
        return
    from vod.catalogue import reindex
    from vod.search import search_for

    with store.session() as s:
        reindex(s, search_for(store, settings.resolved_vod_dir))


COMMANDS = (backup, restore)
