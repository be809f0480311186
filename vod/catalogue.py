"""Programmes and episodes: creating, browsing newest first, publishing, deleting."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vod.models import Episode, IngestJob, Programme
from vod.paths import MediaPaths
from vod.search import EpisodeText, Search

MAX_TITLE = 256
MAX_TAGS = 512


class CatalogueError(ValueError):
    """Bad episode metadata; the message names the field."""


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
        raise CatalogueError("programme: choose a programme")
    try:
        day = date.fromisoformat((air_date or "").strip())
    except ValueError:
        raise CatalogueError(f"date: “{air_date}” is not a date in the form YYYY-MM-DD") from None
    title = " ".join((title or "").split())
    if not title:
        raise CatalogueError("title: a title is required")
    if len(title) > MAX_TITLE:
        raise CatalogueError(f"title: at most {MAX_TITLE} characters")
    clean_tags = ",".join(t.strip() for t in (tags or "").replace("，", ",").split(",") if t.strip())
    if len(clean_tags) > MAX_TAGS:
        raise CatalogueError(f"tags: at most {MAX_TAGS} characters")
    return EpisodeMeta(programme_id, day, title, (description or "").strip(), clean_tags)


def programmes(session: Session) -> list[Programme]:
    return list(session.scalars(select(Programme).order_by(Programme.position, Programme.id)))


def create_episode(session: Session, meta: EpisodeMeta, created_by: str, is_demo: bool = False) -> Episode:
    if session.get(Programme, meta.programme_id) is None:
        known = ", ".join(p.id for p in programmes(session))
        raise CatalogueError(f"programme: unknown programme “{meta.programme_id}” (known: {known})")
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
        stmt = stmt.where(Episode.published.is_(True), Episode.state == "ready")
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
    if published and episode.state != "ready":
        raise CatalogueError(f"episode {episode.id} cannot be published: it is {episode.state}, not ready")
    episode.published = published


def delete_episode(session: Session, episode: Episode, paths: MediaPaths, search: Search) -> None:
    """Remove an episode, its media and its index entry (jobs and statistics go with it)."""
    paths.discard(paths.episode(episode.id))
    for job in session.scalars(select(IngestJob).where(IngestJob.episode_id == episode.id)):
        paths.discard(paths.work(job.id))
    search.remove(episode.id)
    session.delete(episode)
