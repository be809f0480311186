"""``wangnet user``: accounts from the command line (the first admin has no page to use yet)."""
from __future__ import annotations

import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import click
from sqlalchemy.orm import Session

from wangnet import accounts
from wangnet.store import Store


def _read_password(password_file: Path | None) -> str:
    if password_file is not None:
        text = password_file.read_text(encoding="utf-8")
        return text.splitlines()[0] if text else ""
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@contextmanager
def account_session(ctx: click.Context) -> Iterator[Session]:
    """A migrated store's session whose refusals become a clean CLI error (exit 1)."""
    store = Store.from_settings(ctx.obj["settings"])
    store.upgrade()
    try:
        with store.session() as session:
            yield session
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.dispose()


@click.group()
def user() -> None:
    """Users and roles."""


def _check_site(ctx: click.Context, roles: tuple[str, ...], site_id: str | None) -> None:
    """A 'site' account needs --site naming an inventory site; --site means nothing without that role."""
    if site_id is None:
        if "site" in roles:
            raise click.UsageError("role 'site' needs --site ID (the inventory site the account joins conferences as)")
        return
    if "site" not in roles:
        raise click.UsageError("--site is only for accounts with role 'site'")
    from topology import load_inventory

    try:
        load_inventory(ctx.obj["settings"].inventory_path).site(site_id)
    except KeyError:
        raise click.UsageError(f'--site: unknown site "{site_id}" (not in the inventory)') from None


@user.command("add")
@click.argument("name")
@click.option(
    "--role", "roles", multiple=True, required=True, type=click.Choice(accounts.ROLES), help="Repeat for several roles."
)
@click.option("--display-name", default="", help="Name shown in pages (e.g. 张伟).")
@click.option("--email", default=None, help="Where alert e-mail goes.")
@click.option("--mobile", default=None, help="Where alert SMS go.")
@click.option("--site", "site_id", default=None, help="Inventory site id of a 'site' account (its conference terminal).")
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the password from the first line of this file instead of prompting.",
)
@click.pass_context
def add(
    ctx: click.Context,
    name: str,
    roles: tuple[str, ...],
    display_name: str,
    email: str | None,
    mobile: str | None,
    site_id: str | None,
    password_file: Path | None,
) -> None:
    """Create user NAME with one or more roles."""
    _check_site(ctx, roles, site_id)
    password = _read_password(password_file)
    with account_session(ctx) as session:
        created = accounts.create_user(session, name, password, roles, display_name)
        created.email, created.mobile, created.site_id = email, mobile, site_id
        accounts.audit(session, "cli", "user.create", name, f"roles={','.join(sorted(roles))}")
    click.echo(f"user {name} created with role(s) {', '.join(sorted(roles))}")


@user.command("list")
@click.pass_context
def list_users(ctx: click.Context) -> None:
    """List users and their roles."""
    from sqlalchemy import select

    with account_session(ctx) as session:
        for u in session.scalars(select(accounts.User).order_by(accounts.User.username)):
            state = "" if u.active else " (disabled)"
            click.echo(f"{u.username:<20} {','.join(sorted(u.roles)):<30}{state}")


@user.command("passwd")
@click.argument("name")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def passwd(ctx: click.Context, name: str, password_file: Path | None) -> None:
    """Set the password of user NAME."""
    password = _read_password(password_file)
    with account_session(ctx) as session:
        found = accounts.find_user(session, name)
        if found is None:
            raise accounts.AccountError(f"no user {name!r}")
        accounts.set_password(session, found, password)
        accounts.audit(session, "cli", "user.password", name)
    click.echo(f"password of {name} changed")


@user.command("demo-admin")
@click.pass_context
def demo_admin(ctx: click.Context) -> None:
    """Create the demo user ``admin`` (all roles) once, and print its login.

    The password is random per installation and kept in var/demo-admin-password
    (mode 600), so no password is ever shipped in the repository.
    """
    settings = ctx.obj["settings"]
    pw_path = settings.var_dir / "demo-admin-password"
    with account_session(ctx) as session:
        existing = accounts.find_user(session, "admin")
        if existing is None or not pw_path.exists():
            password = secrets.token_urlsafe(12)
            settings.var_dir.mkdir(parents=True, exist_ok=True)
            pw_path.touch(mode=0o600)
            pw_path.write_text(password + "\n", encoding="utf-8")
            if existing is None:
                accounts.create_user(session, "admin", password, accounts.ROLES, "演示管理员")
                accounts.audit(session, "cli", "user.create", "admin", "demo admin, all roles")
            else:
                accounts.set_password(session, existing, password)
                accounts.audit(session, "cli", "user.password", "admin", "demo admin password reset")
        password = pw_path.read_text(encoding="utf-8").strip()
    click.echo(f"demo login: admin / {password}   (stored in {pw_path})")


COMMANDS = (user,)
