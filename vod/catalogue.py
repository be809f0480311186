"""Programmes and episodes: creating, browsing newest first, publishing, deleting."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vod.models import Episode, IngestJob, Programme
from vod.paths import MediaPaths
from vod.reasons import Refused
from vod.search import EpisodeText, Search

MAX_TITLE = 256
MAX_TAGS = 512
# ready: the ladder is published under episodes/; watchable: its job still runs, the first segments of every
# rung are in the work directory and can be played (EVENT playlists that grow until the job ends).
PLAYABLE_STATES = ("ready", "watchable")


class CatalogueError(Refused, ValueError):
    """Bad episode metadata; the reason (and its English text) names the field."""


@dataclass(frozen=True)
class EpisodeMeta:
    programme_id: str
    air_date: date
    title: str
    description: str = ""
    tags: str = ""


def parse_meta(programme_id: str, air_date: str, title: str, description: str = "", tags: str = "") -> EpisodeMeta:
    """Validated metadata from form or command-line strings."""
    programme_id = (programme_id or "").strip()
    if not programme_id:
        raise CatalogueError("meta.programme_missing")
    try:
        day = date.fromisoformat((air_date or "").strip())
    except ValueError:
        raise CatalogueError("meta.date_invalid", value=air_date) from None
    title = " ".join((title or "").split())
    if not title:
        raise CatalogueError("meta.title_missing")
    if len(title) > MAX_TITLE:
        raise CatalogueError("meta.title_too_long", maximum=MAX_TITLE)
    clean_tags = ",".join(t.strip() for t in (tags or "").replace("，", ",").split(",") if t.strip())
    if len(clean_tags) > MAX_TAGS:
        raise CatalogueError("meta.tags_too_long", maximum=MAX_TAGS)
    return EpisodeMeta(programme_id, day, title, (description or "").strip(), clean_tags)


def programmes(session: Session) -> list[Programme]:
    return list(session.scalars(select(Programme).order_by(Programme.position, Programme.id)))


def create_episode(session: Session, meta: EpisodeMeta, created_by: str, is_demo: bool = False) -> Episode:
    if session.get(Programme, meta.programme_id) is None:
        known = ", ".join(p.id for p in programmes(session))
        raise CatalogueError("meta.programme_unknown", programme=meta.programme_id, known=known)
    episode = Episode(
        programme_id=meta.programme_id, air_date=meta.air_date, title=meta.title, description=meta.description,
        tags=meta.tags, created_by=created_by, is_demo=is_demo, state="processing", published=False,
    )
    session.add(episode)
    session.flush()
    return episode


def browse(
    session: Session,
    programme_id: str | None = None,
    include_unpublished: bool = False,
    ids: list[int] | None = None,
    limit: int = 100,
) -> list[Episode]:
    """Episodes newest first (air date, then upload); ``ids`` keeps a search's ranking."""
    stmt = select(Episode)
    if programme_id:
        stmt = stmt.where(Episode.programme_id == programme_id)
    if not include_unpublished:
        stmt = stmt.where(Episode.published.is_(True), Episode.state.in_(PLAYABLE_STATES))
    if ids is not None:
        stmt = stmt.where(Episode.id.in_(ids))
        found = {e.id: e for e in session.scalars(stmt)}
        return [found[i] for i in ids if i in found][:limit]
    stmt = stmt.order_by(Episode.air_date.desc(), Episode.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def latest_job(session: Session, episode_id: int) -> IngestJob | None:
    return session.scalars(
        select(IngestJob).where(IngestJob.episode_id == episode_id).order_by(IngestJob.id.desc()).limit(1)
    ).first()


def count_episodes(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Episode)) or 0)


def episode_text(episode: Episode) -> EpisodeText:
    prog = episode.programme
    return EpisodeText(
        episode.id, episode.title, episode.description, episode.tags.replace(",", " "),
        f"{prog.name} {prog.name_en}" if prog else episode.programme_id,
    )


def reindex(session: Session, search: Search) -> None:
    """Rebuild the search index from the episodes table (after a restore, or when its file is missing)."""
    search.rebuild(episode_text(e) for e in session.scalars(select(Episode)))


def set_published(session: Session, episode: Episode, published: bool) -> None:
    """Show or hide an episode; for one still being converted the choice also holds when its job ends."""
    if published and episode.state not in PLAYABLE_STATES:
        raise CatalogueError("episode.not_ready", episode=episode.id, state=episode.state)
    episode.published = published
    job = latest_job(session, episode.id)
    if job is not None and job.state in ("queued", "running"):
        job.publish = published


def media_dirs(session: Session, paths: MediaPaths, episode: Episode) -> list[Path]:
    """Where an episode's files are, in the order to look: the running job's work directory while it is
    only watchable, then the published directory (the job may have just renamed one into the other)."""
    if episode.state == "watchable":
        job = latest_job(session, episode.id)
        if job is not None and job.state == "running":
            return [paths.work(job.id), paths.episode(episode.id)]
    return [paths.episode(episode.id)]


def delete_episode(session: Session, episode: Episode, paths: MediaPaths, search: Search) -> None:
    """Remove an episode, its media and its index entry (jobs and statistics go with it)."""
    paths.discard(paths.episode(episode.id))
    for job in session.scalars(select(IngestJob).where(IngestJob.episode_id == episode.id)):
        paths.discard(paths.work(job.id))
    search.remove(episode.id)
    session.delete(episode)
