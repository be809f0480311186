"""``wangnet vod-worker``: the VOD ingest worker alone (scale-out), taking the jobs the web app queues."""
from __future__ import annotations

import click


@click.command("vod-worker")
@click.option("--poll-interval", default=1.0, show_default=True, help="Seconds between looks for queued jobs.")
@click.option("--metrics-port", default=None, type=int,
              help="Serve Prometheus metrics on this port of the metrics host (default: WANGNET_METRICS_PORT; 0 = off).")
@click.pass_context
def vod_worker(ctx: click.Context, poll_interval: float, metrics_port: int | None) -> None:
    """Transcode queued uploads into HLS ladders, one at a time, until stopped.

    Uploads land on the web process's disk and the ladders must be where the
    web (or nginx) serves them, so this process shares the web's VOD directory
    (WANGNET_VOD_DIR) as well as its database. Run one worker per VOD
    directory: at start it re-queues jobs left running, which would also take
    a job from a second live worker.
    """
    from vod.worker import IngestWorker
    from wangnet.servicehost import ExporterError, configure_logging, host_services, start_exporter
    from wangnet.store import Store

    if poll_interval <= 0:
        raise click.BadParameter(f"{poll_interval:g}: must be more than 0 seconds", param_hint="--poll-interval")
    settings = ctx.obj["settings"]
    configure_logging()
    store = Store.from_settings(settings)
    store.upgrade()
    worker = IngestWorker.from_settings(settings, store)
    worker.poll_interval = poll_interval

    def started() -> None:
        try:
            port = start_exporter(settings, metrics_port)
        except ExporterError as exc:
            raise click.ClickException(str(exc)) from None
        if port:
            click.echo(f"metrics on http://{settings.metrics_host}:{port}/metrics")
        click.echo(f"vod worker taking queued jobs for {settings.resolved_vod_dir} (Ctrl-C stops)")

    try:
        host_services([worker], started)
    finally:
        store.dispose()
    click.echo("vod worker stopped")


COMMANDS = (vod_worker,)
