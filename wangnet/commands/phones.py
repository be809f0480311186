"""``wangnet phones``: the IP-phone registry from the shell (bulk loading, listing, the extension plan).

Passwords are printed (``add``, ``reset-password``) or written to a file of
mode 600 (``import --output``) exactly once; nothing keeps them afterwards.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import click
from sqlalchemy.orm import Session

from telephony import phone_csv, registry, trial
from telephony.plan import PlanError, build_plan, check_phones
from telephony.registry import Context, PhoneFields, RegistryError
from topology import Inventory
from wangnet.commands.inventory import load_or_exit, resolve_inventory_path
from wangnet.commands.options import inventory_option
from wangnet.store import Store

ACTOR = "cli"


def _inventory(ctx: click.Context, path: Path | None) -> Inventory:
    return load_or_exit(resolve_inventory_path(ctx, path))


def _context(ctx: click.Context, inv: Inventory) -> Context:
    try:
        return Context.from_inventory(inv, ctx.obj["settings"].sip_realm, ACTOR)
    except PlanError as exc:
        raise click.ClickException(f"extension plan: {exc}") from exc


@contextmanager
def registry_session(ctx: click.Context) -> Iterator[Session]:
    """A migrated store's session whose refusals become a clean CLI error (exit 1)."""
    store = Store.from_settings(ctx.obj["settings"])
    store.upgrade()
    try:
        with store.session() as session:
            yield session
    except phone_csv.CsvImportError as exc:
        for line in exc.errors:
            click.echo(line, err=True)
        raise click.ClickException(f"{len(exc.errors)} problem(s); nothing imported") from exc
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.dispose()


@click.group()
def phones() -> None:
    """IP-phone registry: phones, SIP credentials, the extension plan."""


@phones.command("plan")
@inventory_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def plan_cmd(ctx: click.Context, inventory: Path | None, as_json: bool) -> None:
    """Show every site's extension block (B TT NNN, derived from the inventory)."""
    inv = _inventory(ctx, inventory)
    try:
        plan = build_plan(inv)
    except PlanError as exc:
        raise click.ClickException(f"extension plan: {exc}") from exc
    rows = [
        {"site": p.site_id, "name": inv.site(p.site_id).name, "tier": p.tier, "banner": p.banner_id,
         "prefix": p.prefix, "first": p.first, "last": p.last}
        for p in sorted(plan.sites.values(), key=lambda block: block.prefix)
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        indent = "  " if r["tier"] == "township" else ""
        click.echo(f"{r['prefix']}  {r['first']}–{r['last']}  {indent}{r['site']} ({r['name']})")


@phones.command("add")
@inventory_option
@click.option("--site", "site_id", required=True, help="Site id from the inventory, e.g. shulinzhao.")
@click.option("--extension", default="", help="Six digits in the site's block; default: the next free one.")
@click.option("--name", "display_name", default="", help="Display name, e.g. 树林召镇办公室.")
@click.option("--department", default="")
@click.option("--mac", default="")
@click.option("--model", default="")
@click.option("--owner", default="")
@click.pass_context
def add(ctx: click.Context, inventory: Path | None, **fields: str) -> None:
    """Create a phone and print its SIP password (shown this once only)."""
    c = _context(ctx, _inventory(ctx, inventory))
    with registry_session(ctx) as s:
        phone, password = registry.create_phone(s, c, PhoneFields(**fields))
        click.echo(f"phone {phone.extension} created at {phone.site_id}")
        click.echo(f"SIP user name: {phone.extension}   realm: {c.realm}")
        click.echo(f"SIP password:  {password}   (shown once; only its digest is kept)")


@phones.command("reset-password")
@inventory_option
@click.argument("extension")
@click.pass_context
def reset_password(ctx: click.Context, inventory: Path | None, extension: str) -> None:
    """Issue a new SIP password for EXTENSION and print it once."""
    c = _context(ctx, _inventory(ctx, inventory))
    with registry_session(ctx) as s:
        password = registry.reset_password(s, c, extension)
    click.echo(f"new SIP password of {extension}: {password}   (shown once)")


@phones.command("list")
@inventory_option
@click.option("--site", default=None)
@click.option("--banner", default=None)
@click.option("--registered/--unregistered", default=None, help="Only phones registered now (or not).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_cmd(ctx: click.Context, inventory: Path | None, site: str | None, banner: str | None,
             registered: bool | None, as_json: bool) -> None:
    """List phones with their registration state."""
    c = _context(ctx, _inventory(ctx, inventory))
    with registry_session(ctx) as s:
        page = trial.list_phones(s, c.plan, site=site, banner=banner, registered=registered, per_page=1_000_000)
        rows = [
            {"extension": r.phone.extension, "site": r.phone.site_id, "display_name": r.phone.display_name,
             "enabled": r.phone.enabled, "registered": r.registered, "last_user_agent": r.phone.last_user_agent,
             "failed_attempts": r.phone.failed_attempts}
            for r in page.rows
        ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        state = "disabled" if not r["enabled"] else ("registered" if r["registered"] else "unregistered")
        click.echo(f"{r['extension']}  {r['site']:<16} {state:<12} {r['display_name']}")
    click.echo(f"{len(rows)} phone(s)")


@phones.command("import")
@inventory_option
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the new passwords (CSV, mode 600; must not exist). '-' prints them.")
@click.pass_context
def import_cmd(ctx: click.Context, inventory: Path | None, csv_file: Path, output: Path) -> None:
    """Load phones from CSV_FILE: all rows or none; passwords go to --output once."""
    if str(output) != "-" and output.exists():
        raise click.ClickException(f"{output} exists; choose a new file for the passwords")
    try:
        text = csv_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{csv_file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    c = _context(ctx, _inventory(ctx, inventory))
    with registry_session(ctx) as s:
        result = phone_csv.import_csv(s, c, text)
        out = result.passwords_csv()
        if str(output) == "-":
            click.echo(out, nl=False)
        else:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(out)
    click.echo(f"{len(result.created)} phone(s) imported" + ("" if str(output) == "-" else f"; passwords in {output}"),
               err=str(output) == "-")


@phones.command("export")
@inventory_option
@click.argument("csv_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def export_cmd(ctx: click.Context, inventory: Path | None, csv_file: Path | None) -> None:
    """Write every phone as CSV (no credentials) to CSV_FILE or standard output."""
    c = _context(ctx, _inventory(ctx, inventory))
    with registry_session(ctx) as s:
        text = phone_csv.export_csv(s, c)
    if csv_file is None:
        click.echo(text, nl=False)
    else:
        csv_file.write_text(text, encoding="utf-8")
        click.echo(f"exported to {csv_file}")


@phones.command("check")
@inventory_option
@click.pass_context
def check_cmd(ctx: click.Context, inventory: Path | None) -> None:
    """Report phones whose extension no longer fits their site's block (e.g. after the inventory changed)."""
    c = _context(ctx, _inventory(ctx, inventory))
    from sqlalchemy import select

    from telephony.models import Phone

    with registry_session(ctx) as s:
        pairs = list(s.execute(select(Phone.extension, Phone.site_id)))
    problems = check_phones(c.plan, pairs)
    for p in problems:
        click.echo(p)
    if problems:
        raise click.ClickException(f"{len(problems)} phone(s) do not fit the extension plan")
    click.echo(f"{len(pairs)} phone(s) fit the extension plan")


COMMANDS = (phones,)
