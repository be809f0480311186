"""``wangnet sim``: every inventory device as an SNMP agent on 127.0.0.1, without root."""
from __future__ import annotations

import json
from pathlib import Path

import click

from wangnet.commands.inventory import load_or_exit, resolve_inventory_path
from wangnet.commands.options import inventory_option


def _var_dir(ctx: click.Context) -> Path:
    return ctx.find_root().obj["settings"].var_dir  # type: ignore[no-any-return]


def _guard(func, *args, **kwargs):  # type: ignore[no-untyped-def]
    from lab.sim.control import SimError

    try:
        return func(*args, **kwargs)
    except SimError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None


@click.group()
def sim() -> None:
    """Simulate the inventory's devices as SNMPv2c agents on loopback (for `make run` and machines without root)."""


def _udp_range_free(base: int, count: int) -> bool:
    """Whether every port of the range can be bound on 127.0.0.1 right now."""
    import socket

    for port in range(base, base + count):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


@sim.command()
@inventory_option
@click.option("--port-base", type=int, default=None,
              help="First UDP port; device N listens on base+N (default $WANGNET_SIM_PORT_BASE or 16100; 0 = any free ports).")
@click.pass_context
def up(ctx: click.Context, inventory: Path | None, port_base: int | None) -> None:
    """Start the simulation in the background."""
    from lab.sim.control import up as sim_up

    settings = ctx.find_root().obj["settings"]
    path = resolve_inventory_path(ctx, inventory)
    load_or_exit(path)
    base = settings.sim_port_base if port_base is None else port_base
    count = len(load_or_exit(path).devices)
    if base and not _udp_range_free(base, count):
        click.echo(f"sim: some of UDP ports {base}–{base + count - 1} are taken on 127.0.0.1; using free ports instead")
        base = 0
    state = _guard(sim_up, _var_dir(ctx), path, base)
    ports = sorted(ep["port"] for ep in state["devices"].values())
    click.echo(f"sim: {len(ports)} devices on 127.0.0.1 UDP ports {ports[0]}–{ports[-1]} (pid {state['pid']})")
    click.echo(f"sim: community in {_var_dir(ctx) / 'sim' / 'secrets.yaml'} [sim-v2c]; `wangnet sim status` lists the endpoints")


@sim.command()
@click.pass_context
def down(ctx: click.Context) -> None:
    """Stop the simulation and remove var/sim."""
    from lab.sim.control import down as sim_down

    click.echo("sim: stopped" if sim_down(_var_dir(ctx)) else "sim: was not running (cleaned up)")


@sim.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with every endpoint).")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Endpoints, failures and which devices answer."""
    from lab.sim.control import status as sim_status

    data = _guard(sim_status, _var_dir(ctx))
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"pid        {data['pid']}")
    click.echo(f"answering  {data['answering']}/{data['devices']}" + (f" (silent: {' '.join(data['silent'])})" if data["silent"] else ""))
    click.echo(f"failed     links: {' '.join(data['failed_links']) or '-'}; devices: {' '.join(data['failed_devices']) or '-'}")
    click.echo(f"secrets    {data['secrets_file']}")
    for device, ep in sorted(data["endpoints"].items()):
        click.echo(f"  {device:22} {ep['address']}:{ep['port']}")


@sim.command()
@click.option("--link", "link", help="Cut this link: both ends report ifOperStatus down.")
@click.option("--device", "device", help="Fail this device.")
@click.pass_context
def fail(ctx: click.Context, link: str | None, device: str | None) -> None:
    """Inject a failure: what the graph puts behind it stops answering."""
    from lab.sim.control import fail as sim_fail

    if (link is None) == (device is None):
        raise click.UsageError("give exactly one of --link ID or --device ID")
    links, devices = _guard(sim_fail, _var_dir(ctx), link=link, device=device)
    click.echo(f"failed: links {' '.join(sorted(links)) or '-'}; devices {' '.join(sorted(devices)) or '-'}")


@sim.command()
@click.option("--link", "link", help="Mend this link.")
@click.option("--device", "device", help="Revive this device.")
@click.pass_context
def heal(ctx: click.Context, link: str | None, device: str | None) -> None:
    """Undo a failure (all of them when no option is given)."""
    from lab.sim.control import heal as sim_heal

    links, devices = _guard(sim_heal, _var_dir(ctx), link=link, device=device)
    click.echo(f"failed: links {' '.join(sorted(links)) or '-'}; devices {' '.join(sorted(devices)) or '-'}")


COMMANDS = (sim,)
