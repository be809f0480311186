"""``wangnet lab``: the inventory's network built for real in network namespaces (root)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from wangnet.commands.inventory import load_or_exit, resolve_inventory_path
from wangnet.commands.options import inventory_option


def _run_dir(ctx: click.Context):  # type: ignore[no-untyped-def]
    from lab.daemons import RunDir

    return RunDir(ctx.find_root().obj["settings"].resolved_lab_dir)


def _guard(func, *args, **kwargs):  # type: ignore[no-untyped-def]
    from lab.control import LabError
    from lab.netns import LabCommandError
    from lab.plan import PlanError

    try:
        return func(*args, **kwargs)
    except (LabError, LabCommandError, PlanError) as exc:
        raise click.ClickException(str(exc)) from None


def _one_of(link: str | None, device: str | None, required: bool = True) -> None:
    if link is not None and device is not None or (required and link is None and device is None):
        raise click.UsageError("give exactly one of --link ID or --device ID")


@click.group()
def lab() -> None:
    """Build the inventory's network in namespaces with snmpd, sshd, BIRD and lldpd (needs root)."""


@lab.command()
@inventory_option
@click.option("--only", "only", multiple=True, metavar="SITE",
              help="Build only these sites (with their townships); the city tier is always built. Repeatable.")
@click.option("--no-lldpd", is_flag=True, help="Do not start lldpd (saves two processes per device).")
@click.option("--wait", "wait_s", default=60.0, show_default=True, help="Seconds to wait for every device to answer.")
@click.pass_context
def up(ctx: click.Context, inventory: Path | None, only: tuple[str, ...], no_lldpd: bool, wait_s: float) -> None:
    """Build the lab and start its daemons (tears down a crashed lab first)."""
    from lab import control

    settings = ctx.find_root().obj["settings"]
    path = resolve_inventory_path(ctx, inventory).resolve()
    inv = load_or_exit(path)
    trap_port = settings.trap_port or settings.lab_trap_port  # the collector's port when one is set
    state = _guard(control.up, inv, path, _run_dir(ctx), only, trap_port=trap_port,
                   with_lldpd=not no_lldpd, wait_s=wait_s, log=click.echo)
    click.echo(f"credentials: export WANGNET_SECRETS_FILE={state['secrets_file']}")
    click.echo(f"ssh:         ssh -i {state['ssh_key']} noc@<mgmt address>")
    click.echo(f"traps:       every device sends linkDown/linkUp (v2c) to {state['trap']['address']}:{state['trap']['port']}")
    click.echo("devices are reached at their inventory management addresses (WANGNET_DEVICE_MODE=lab)")


@lab.command()
@click.pass_context
def down(ctx: click.Context) -> None:
    """Stop every daemon and remove every namespace, veth, route and file the lab made."""
    from lab import control

    problems = _guard(control.down, _run_dir(ctx), log=click.echo)
    if problems:
        raise SystemExit(1)


@lab.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--no-ping", is_flag=True, help="Do not ping every device.")
@click.pass_context
def status(ctx: click.Context, as_json: bool, no_ping: bool) -> None:
    """Supervisor, daemons, failures and reachability from the host."""
    from lab import control

    data = _guard(control.status, _run_dir(ctx), check_reachability=not no_ping)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    sup = data["supervisor"]
    click.echo(f"run dir     {data['run_dir']}")
    click.echo(f"supervisor  pid {sup['pid']} {'alive' if sup['alive'] else 'NOT RUNNING'}")
    click.echo(f"devices     {data['devices']}, links {data['links']}")
    d = data["daemons"]
    click.echo(f"daemons     {d['running']}/{d['configured']} running" +
               (f" (down: {' '.join(d['not_running'][:8])})" if d["not_running"] else ""))
    click.echo(f"failed      links: {' '.join(data['failed_links']) or '-'}; devices: {' '.join(data['failed_devices']) or '-'}")
    if "reachable" in data:
        click.echo(f"reachable   {data['reachable']}/{data['devices']}" +
                   (f" (silent: {' '.join(data['unreachable'])})" if data["unreachable"] else ""))
    click.echo(f"secrets     {data['secrets_file']}")


@lab.command()
@click.option("--link", "link", help="Cut this link: both ends lose carrier.")
@click.option("--device", "device", help="Kill this device: its cables cut, its processes frozen.")
@click.pass_context
def fail(ctx: click.Context, link: str | None, device: str | None) -> None:
    """Inject a failure."""
    from lab import control

    _one_of(link, device)
    state = _guard(control.fail, _run_dir(ctx), link=link, device=device)
    click.echo(f"failed: links {' '.join(state['failed_links']) or '-'}; devices {' '.join(state['failed_devices']) or '-'}")


@lab.command()
@click.option("--link", "link", help="Mend this link.")
@click.option("--device", "device", help="Revive this device.")
@click.pass_context
def heal(ctx: click.Context, link: str | None, device: str | None) -> None:
    """Undo a failure (every failure when no option is given)."""
    from lab import control

    _one_of(link, device, required=False)
    state = _guard(control.heal, _run_dir(ctx), link=link, device=device)
    click.echo(f"failed: links {' '.join(state['failed_links']) or '-'}; devices {' '.join(state['failed_devices']) or '-'}")


@lab.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("device")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec_(ctx: click.Context, device: str, command: tuple[str, ...]) -> None:
    """Run COMMAND inside DEVICE (its namespace, hostname and /run): wangnet lab exec dalad-rt -- birdc show ospf neighbors."""
    from lab import control

    raise SystemExit(_guard(control.exec_in, _run_dir(ctx), device, list(command)))


COMMANDS = (lab,)
