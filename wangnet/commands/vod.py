"""``wangnet vod``: ingest files, make demo episodes, watch a folder, list jobs, rebuild the search index."""
from __future__ import annotations

import shutil
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Iterator

import click

from wangnet.config import Settings
from wangnet.store import Store


@contextmanager
def _ingest(ctx: click.Context) -> Iterator["object"]:
    from vod.ingest import Ingest
    from vod.paths import MediaPaths
    from vod.search import search_for

    settings: Settings = ctx.obj["settings"]
    store = Store.from_settings(settings)
    store.upgrade()
    paths = MediaPaths(settings.resolved_vod_dir)
    try:
        yield Ingest(store, paths, search_for(store, paths.root))
    finally:
        store.dispose()


def _max_bytes(ctx: click.Context) -> int:
    return int(ctx.obj["settings"].vod_max_upload_mb) * 2**20


@click.group()
def vod() -> None:
    """News video on demand."""


@vod.command("ingest")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--programme", required=True, help="Programme id (xwlb, jdft, nmgxw, ordosxw, events).")
@click.option("--date", "air_date", required=True, help="Air date, YYYY-MM-DD.")
@click.option("--title", required=True)
@click.option("--description", default="")
@click.option("--tags", default="", help="Comma-separated.")
@click.option("--unpublished", is_flag=True, help="Keep it hidden from staff until an admin publishes it.")
@click.option("--queue", is_flag=True, help="Only queue the job for the running server's worker.")
@click.pass_context
def ingest(ctx: click.Context, file: Path, programme: str, air_date: str, title: str, description: str,
           tags: str, unpublished: bool, queue: bool) -> None:
    """Validate FILE with ffprobe and transcode it to the HLS ladder (exit 1 with the reason if refused)."""
    from vod.catalogue import CatalogueError, parse_meta
    from vod.probe import MediaRejected

    with _ingest(ctx) as ing:
        try:
            meta = parse_meta(programme, air_date, title, description, tags)
            sub = ing.submit(file, meta, "cli", _max_bytes(ctx), publish=not unpublished)  # type: ignore[attr-defined]
        except (CatalogueError, MediaRejected) as exc:
            raise click.ClickException(f"{file}: {exc}") from exc
        click.echo(f"episode {sub.episode_id}: job {sub.job_id} queued ({sub.info.width}×{sub.info.height}, "
                   f"{sub.info.duration_s:.1f} s)")
        if queue:
            return
        ok = ing.run_sync(sub.job_id)  # type: ignore[attr-defined]
        _report_job(ing, sub.job_id, ok)


def _report_job(ing: object, job_id: int, ok: bool) -> None:
    from vod.models import IngestJob

    with ing.store.session() as s:  # type: ignore[attr-defined]
        job = s.get(IngestJob, job_id)
        if not ok:
            raise click.ClickException(f"job {job_id} failed: {job.error if job else 'vanished'}")
        click.echo(f"episode {job.episode_id} published ({job.episode.renditions})" if job.episode.published
                   else f"episode {job.episode_id} ready, unpublished ({job.episode.renditions})")


@vod.command("demo")
@click.option("--seconds", default=12.0, show_default=True, help="Length of each demo episode.")
@click.option("--count", default=3, show_default=True, type=click.IntRange(1, 3))
@click.option("--if-empty", is_flag=True, help="Do nothing when the catalogue already holds episodes.")
@click.option("--queue", is_flag=True, help="Only queue the jobs for the running server's worker.")
@click.pass_context
def demo(ctx: click.Context, seconds: float, count: int, if_empty: bool, queue: bool) -> None:
    """Generate demo episodes with ffmpeg (test pattern, tone, Chinese caption), marked 【演示】."""
    from vod.catalogue import count_episodes, parse_meta
    from vod.demo import DEMO_EPISODES, DEMO_PREFIX, cjk_font, demo_air_date, demo_caption, make_source

    with _ingest(ctx) as ing:
        with ing.store.session() as s:  # type: ignore[attr-defined]
            existing = count_episodes(s)
        if if_empty and existing:
            click.echo(f"vod demo: the catalogue holds {existing} episode(s); no demo needed")
            return
        if cjk_font() is None:
            click.echo("vod demo: no CJK font (Debian fonts-noto-cjk); captions left out", err=True)
        today = date.today()
        for item in DEMO_EPISODES[:count]:
            day = demo_air_date(item, today)
            source = ing.paths.uploads / f"demo-{item.programme_id}-{day.isoformat()}.mp4"  # type: ignore[attr-defined]
            make_source(source, seconds, caption=demo_caption(item, day), tone_hz=item.tone_hz)
            meta = parse_meta(item.programme_id, day.isoformat(), f"{DEMO_PREFIX}{item.title}", item.description, item.tags)
            sub = ing.submit(source, meta, "demo", _max_bytes(ctx), delete_source=True, is_demo=True)  # type: ignore[attr-defined]
            click.echo(f"demo episode {sub.episode_id}: {meta.title}")
            if not queue:
                _report_job(ing, sub.job_id, ing.run_sync(sub.job_id))  # type: ignore[attr-defined]


@vod.command("watch")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--interval", default=5.0, show_default=True, help="Seconds between scans.")
@click.option("--once", is_flag=True, help="Scan twice (to see sizes settle), ingest what is ready, exit.")
@click.pass_context
def watch(ctx: click.Context, folder: Path, interval: float, once: bool) -> None:
    """Ingest files dropped into FOLDER/<programme>/<YYYY-MM-DD> <title>.mp4 (moved to done/ or rejected/)."""
    from vod.catalogue import CatalogueError, parse_meta
    from vod.probe import MediaRejected
    from vod.watch import Drop, StableFiles, candidates, parse_drop

    stable = StableFiles()
    with _ingest(ctx) as ing:
        scans = 0
        while True:
            scans += 1
            for path in stable.ready(candidates(folder)):
                drop = parse_drop(folder, path)
                if not isinstance(drop, Drop):  # a badly named file: the naming rule, in English
                    _move(folder / "rejected", path, reason=drop)
                    click.echo(f"rejected {path.name}: {drop}")
                    continue
                try:
                    meta = parse_meta(drop.programme_id, drop.air_date, drop.title)
                    sub = ing.submit(path, meta, "watch-folder", _max_bytes(ctx))  # type: ignore[attr-defined]
                except (CatalogueError, MediaRejected) as exc:
                    _move(folder / "rejected", path, reason=str(exc))
                    click.echo(f"rejected {path.name}: {exc}")
                    continue
                ok = ing.run_sync(sub.job_id)  # type: ignore[attr-defined]
                if ok:
                    _move(folder / "done", path)
                    click.echo(f"ingested {path.name} as episode {sub.episode_id}")
                else:
                    from vod.models import IngestJob

                    with ing.store.session() as s:  # type: ignore[attr-defined]
                        reason = s.get(IngestJob, sub.job_id).error
                    _move(folder / "rejected", path, reason=reason)
                    click.echo(f"rejected {path.name}: {reason}")
            if once and scans >= 2:
                return
            time.sleep(interval if not once else min(interval, 1.0))


def _move(target_dir: Path, path: Path, reason: str | None = None) -> None:
    target_dir.mkdir(exist_ok=True)
    dest = target_dir / path.name
    shutil.move(str(path), dest)
    if reason is not None:
        dest.with_name(dest.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")


@vod.command("jobs")
@click.pass_context
def jobs(ctx: click.Context) -> None:
    """List ingest jobs, newest first."""
    from sqlalchemy import select

    from vod.models import IngestJob

    with _ingest(ctx) as ing:
        with ing.store.session() as s:  # type: ignore[attr-defined]
            for job in s.scalars(select(IngestJob).order_by(IngestJob.id.desc()).limit(50)):
                click.echo(f"{job.id}\t{job.state}\t{job.progress * 100:.0f}%\tepisode {job.episode_id}\t"
                           f"{job.episode.title}\t{job.error}")


@vod.command("reindex")
@click.pass_context
def reindex(ctx: click.Context) -> None:
    """Rebuild the search index from the episodes table."""
    from vod.catalogue import reindex as rebuild

    with _ingest(ctx) as ing:
        with ing.store.session() as s:  # type: ignore[attr-defined]
            rebuild(s, ing.search)  # type: ignore[attr-defined]
    click.echo("vod search index rebuilt")


COMMANDS = (vod,)
