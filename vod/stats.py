"""Viewing statistics: views and watch time per episode and per site, rolled up per banner.

Watch time is what the player reports between heartbeats, clamped so that a
client cannot claim more time than has passed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from topology import Inventory
from vod.models import Episode, ResumePosition, ViewSession, utcnow

HEARTBEAT_S = 10.0
ACTIVE_WINDOW_S = 3 * HEARTBEAT_S
RESUME_TAIL_S = 10.0  # this close to the end (or the last tenth) counts as finished: start again from the top


def start_view(session: Session, episode_id: int, username: str, address: str, site_id: str | None) -> ViewSession:
    view = ViewSession(episode_id=episode_id, username=username, address=address[:64], site_id=site_id)
    session.add(view)
    session.flush()
    return view


def clamp_watched(claimed_s: float, since_last_s: float) -> float:
    """Watch time credited for one heartbeat: never negative, never more than the time that passed (+ slack)."""
    if claimed_s != claimed_s or claimed_s <= 0:  # NaN or nothing
        return 0.0
    return min(claimed_s, max(0.0, since_last_s) + 2.0, 2 * HEARTBEAT_S + 2.0)


def heartbeat(session: Session, view: ViewSession, position_s: float | None, watched_s: float,
              duration_s: float, now: datetime | None = None) -> None:
    now = now or utcnow()
    last = view.last_seen_at if view.last_seen_at.tzinfo else view.last_seen_at.replace(tzinfo=timezone.utc)
    view.watched_s += clamp_watched(watched_s, (now - last).total_seconds())
    view.last_seen_at = now
    if position_s is not None and position_s == position_s and position_s >= 0:
        save_position(session, view.username, view.episode_id, min(position_s, duration_s or position_s), now)


def save_position(session: Session, username: str, episode_id: int, position_s: float, now: datetime) -> None:
    row = session.get(ResumePosition, (username, episode_id))
    if row is None:
        session.add(ResumePosition(username=username, episode_id=episode_id, position_s=position_s, updated_at=now))
    else:
        row.position_s, row.updated_at = position_s, now


def resume_at(session: Session, username: str, episode: Episode) -> float:
    """Where the player should start: the saved position, unless the viewer had reached the end."""
    row = session.get(ResumePosition, (username, episode.id))
    tail = min(RESUME_TAIL_S, (episode.duration_s or 0.0) * 0.1)
    if row is None or row.position_s < 1 or (episode.duration_s and row.position_s > episode.duration_s - tail):
        return 0.0
    return row.position_s


def active_viewers(session: Session, now: datetime | None = None) -> dict[str | None, int]:
    """Viewers heard from in the last ``ACTIVE_WINDOW_S`` seconds, by site (None = off-network)."""
    since = (now or utcnow()) - timedelta(seconds=ACTIVE_WINDOW_S)
    rows = session.execute(
        select(ViewSession.site_id, func.count()).where(ViewSession.last_seen_at >= since).group_by(ViewSession.site_id)
    )
    return {site: int(n) for site, n in rows}


@dataclass
class Tally:
    views: int = 0
    watched_s: float = 0.0

    def add(self, views: int, watched_s: float) -> None:
        self.views += views
        self.watched_s += watched_s


@dataclass
class SiteRow:
    site_id: str | None
    name: str
    tier: str
    tally: Tally = field(default_factory=Tally)


@dataclass
class BannerGroup:
    banner: SiteRow
    total: Tally
    townships: list[SiteRow]


@dataclass
class SiteReport:
    city: SiteRow
    banners: list[BannerGroup]
    off_network: SiteRow
    total: Tally


def per_site(session: Session, inventory: Inventory) -> SiteReport:
    """Views and watch time for every site of the inventory, grouped city / banner (+ its townships)."""
    by_site: dict[str | None, tuple[int, float]] = {
        site: (int(n), float(w or 0.0))
        for site, n, w in session.execute(
            select(ViewSession.site_id, func.count(), func.sum(ViewSession.watched_s)).group_by(ViewSession.site_id)
        )
    }
    known = {s.id for s in inventory.sites}

    def row(site_id: str) -> SiteRow:
        site = inventory.site(site_id)
        r = SiteRow(site.id, site.name, site.tier)
        r.tally.add(*by_site.get(site.id, (0, 0.0)))
        return r

    city_id = next(s.id for s in inventory.sites if s.tier == "city")
    total = Tally()
    banners = []
    for banner in (s for s in inventory.sites if s.tier == "banner"):
        b = row(banner.id)
        townships = [row(t.id) for t in inventory.children(banner.id) if t.tier == "township"]
        group_total = Tally()
        for r in (b, *townships):
            group_total.add(r.tally.views, r.tally.watched_s)
        banners.append(BannerGroup(b, group_total, townships))
    off = SiteRow(None, "", "off-network")
    for site_id, (n, w) in by_site.items():
        total.add(n, w)
        if site_id is None or site_id not in known:
            off.tally.add(n, w)
    return SiteReport(row(city_id), banners, off, total)


@dataclass
class EpisodeRow:
    episode_id: int
    title: str
    air_date: str
    views: int
    watched_s: float
    sites: int


def per_episode(session: Session, limit: int = 100) -> list[EpisodeRow]:
    """Episodes by views, with watch time and the number of distinct sites that watched."""
    rows = session.execute(
        select(Episode.id, Episode.title, Episode.air_date, func.count(ViewSession.id),
               func.coalesce(func.sum(ViewSession.watched_s), 0.0), func.count(func.distinct(ViewSession.site_id)))
        .join(ViewSession, ViewSession.episode_id == Episode.id)
        .group_by(Episode.id).order_by(func.count(ViewSession.id).desc(), Episode.id.desc()).limit(limit)
    )
    return [EpisodeRow(i, t, d.isoformat(), int(n), float(w), int(s)) for i, t, d, n, w, s in rows]
