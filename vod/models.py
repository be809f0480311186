"""The VOD area's tables: programmes, episodes, ingest jobs, viewing sessions and resume positions.

The search index is not here: it is derived data (see ``vod/search.py``).
"""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import Boolean, Date, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vod.reasons import Reason
from wangnet.store import Base


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Programme(Base):
    """A series staff look for by name: 新闻联播, 焦点访谈, … or a kind of recording."""

    __tablename__ = "vod_programmes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    name_en: Mapped[str] = mapped_column(String(128), nullable=False)
    position: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


class Episode(Base):
    """One programme on one date; playable once its HLS ladder is published."""

    __tablename__ = "vod_episodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[str] = mapped_column(ForeignKey("vod_programmes.id"), nullable=False, index=True)
    air_date: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    title: Mapped[str] = mapped_column(String(256), nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    tags: Mapped[str] = mapped_column(String(512), default="", nullable=False)  # comma-separated
    duration_s: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    # processing -> ready (media published on disk) ; failed ; published flag says who may see it
    state: Mapped[str] = mapped_column(String(16), default="processing", nullable=False)
    published: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    renditions: Mapped[str] = mapped_column(String(256), default="", nullable=False)  # e.g. "720p,360p,240p"
    created_by: Mapped[str] = mapped_column(String(64), default="", nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    programme: Mapped[Programme] = relationship(lazy="joined")

    @property
    def tag_list(self) -> list[str]:
        return [t for t in (s.strip() for s in self.tags.split(",")) if t]


class IngestJob(Base):
    """A transcode to run; rows in state ``running`` at start-up were interrupted and are redone."""

    __tablename__ = "vod_ingest_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("vod_episodes.id", ondelete="CASCADE"), nullable=False, index=True)
    source_path: Mapped[str] = mapped_column(String(1024), nullable=False)
    delete_source: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    publish: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    state: Mapped[str] = mapped_column(String(16), default="queued", nullable=False, index=True)  # queued running done failed
    progress: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)  # 0..1
    error: Mapped[str] = mapped_column(Text, default="", nullable=False)  # in English, for the CLI and logs
    # the same reason as a code and JSON parameters (vod/reasons.py), which the web pages translate
    error_code: Mapped[str] = mapped_column(String(64), default="", server_default="", nullable=False)
    error_params: Mapped[str] = mapped_column(Text, default="{}", server_default="{}", nullable=False)

    @property
    def reason(self) -> Reason | None:
        return Reason.from_stored(self.error_code, self.error_params)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    first_segment_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    episode: Mapped[Episode] = relationship(lazy="joined")


class ViewSession(Base):
    """One viewing of an episode: who, from which site, how long they actually watched."""

    __tablename__ = "vod_view_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("vod_episodes.id", ondelete="CASCADE"), nullable=False, index=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    address: Mapped[str] = mapped_column(String(64), nullable=False)
    site_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False, index=True)
    watched_s: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)


class ResumePosition(Base):
    """Where a viewer left an episode, so the player starts there next time."""

    __tablename__ = "vod_resume_positions"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("vod_episodes.id", ondelete="CASCADE"), primary_key=True)
    position_s: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
