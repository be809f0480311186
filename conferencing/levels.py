"""Sites' audio levels shared between bridge processes through the store, for active-speaker detection.

Scale-out (``wangnet bridge --site``) puts a banner's townships on another
process's bridge, but only the process running the city bridge detects the
speaker (``conferencing.speaker``), so it must hear every site's level. Each
other process writes the levels its bridges measure (RFC 6464, 0..1) to
``conference_site_levels`` every ``PUBLISH_SECONDS`` — a few rows a couple
of times a second, never per packet — and the city's process merges them
with its own. A level older than ``MAX_AGE`` (its process died or stopped
publishing) counts as silence, so a dead process's site cannot stay loudest.

Why the store and not the trunks: a site's audio only travels a trunk while
somebody's layout needs it, and a township that is not yet on anyone's screen
is exactly the one that must be able to start speaking; every process already
shares the store.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from conferencing.models import SiteLevel

PUBLISH_SECONDS = 0.5
"""How often a bridge process writes its sites' levels (the speaker rule needs 1 s of dominance)."""
MAX_AGE = 3.0
"""Seconds after which a level from the store no longer counts (its process is presumed gone)."""


def merge_levels(local: Mapping[str, float], remote: Mapping[str, tuple[float, float]], now: float,
                 max_age: float = MAX_AGE) -> dict[str, float]:
    """The levels the speaker detector hears: this process's own, plus other processes' fresh ones.

    ``remote`` is site -> (level, written at, seconds since the epoch); a site
    this process measures itself keeps its own figure (it is newer). Levels
    are clamped to 0..1; a bad or stale figure is left out (silence).
    """
    out = {site: _clamp(level) for site, level in local.items()}
    for site, (level, at) in remote.items():
        if site in out or abs(now - at) > max_age:  # stale (or from a clock far ahead): silence
            continue
        out[site] = _clamp(level)
    return out


def _clamp(value: float) -> float:
    if not isinstance(value, (int, float)) or math.isnan(value):
        return 0.0
    return min(1.0, max(0.0, float(value)))


def write_levels(session: Session, conference_id: int, levels: Mapping[str, float], at: float) -> None:
    """Overwrite the levels of this process's sites (one row per site)."""
    when = datetime.fromtimestamp(at, timezone.utc)
    for site, level in levels.items():
        row = session.get(SiteLevel, (conference_id, site))
        if row is None:
            session.add(SiteLevel(conference_id=conference_id, site_id=site, level=_clamp(level), at=when))
        else:
            row.level, row.at = _clamp(level), when


def read_levels(session: Session, conference_id: int) -> dict[str, tuple[float, float]]:
    """Site -> (level, written at in seconds since the epoch) for one conference."""
    stmt = select(SiteLevel).where(SiteLevel.conference_id == conference_id)
    return {row.site_id: (row.level, epoch_seconds(row.at)) for row in session.scalars(stmt)}


def epoch_seconds(value: datetime) -> float:
    """A stored datetime as seconds since the epoch."""
    if value.tzinfo is None:  # SQLite hands back naive datetimes
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()
