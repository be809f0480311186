"""Tables of conferences: the conference and its control state, invited sites, who joined and left when.

The conference row is the one place the host's controls live (mode, focus,
muted sites, rotation), so the web views only write it and the controller
service, polling ``revision``, turns it into layouts for the bridges. That
keeps the two sides apart and lets ``wangnet web`` run without the bridges.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wangnet.accounts import utcnow
from wangnet.store import Base

STATES = ("draft", "running", "ended")
MODES = ("default", "rollcall", "broadcast")
EVENT_KINDS = ("joined", "left", "lost")


class Conference(Base):
    __tablename__ = "conferences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    host: Mapped[str] = mapped_column(String(64), nullable=False)  # username of the host who created it
    host_site: Mapped[str] = mapped_column(String(64), nullable=False)  # where the host sits (usually the city)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="draft", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # host controls (see conferencing.controls.ControlState)
    mode: Mapped[str] = mapped_column(String(16), nullable=False, default="default")
    focus: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the roll-called or broadcast site
    muted: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON list of site ids
    rotate_seconds: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)  # 0 = no rotation
    grid: Mapped[bool] = mapped_column(default=True, nullable=False)  # multi-view on the host's screen
    speaker: Mapped[str | None] = mapped_column(String(64), nullable=True)  # written by the controller
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # bumped on every control change
    sites: Mapped[list["InvitedSite"]] = relationship(
        back_populates="conference", cascade="all, delete-orphan", lazy="selectin", order_by="InvitedSite.id"
    )


class InvitedSite(Base):
    __tablename__ = "conference_sites"
    __table_args__ = (UniqueConstraint("conference_id", "site_id", name="uq_conference_sites_conference_site"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conference_id: Mapped[int] = mapped_column(
        ForeignKey("conferences.id", ondelete="CASCADE"), nullable=False, index=True
    )
    site_id: Mapped[str] = mapped_column(String(64), nullable=False)
    invited_by: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    invited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    conference: Mapped[Conference] = relationship(back_populates="sites")


class ParticipationEvent(Base):
    """A site joined, left, or was lost (its browser vanished) — from the media service's events."""

    __tablename__ = "conference_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conference_id: Mapped[int] = mapped_column(
        ForeignKey("conferences.id", ondelete="CASCADE"), nullable=False, index=True
    )
    site_id: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    resource: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    process: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """The bridge process ("host:pid") whose bridge the site joined: when it dies, the site is marked lost."""


class BridgeProcess(Base):
    """A running bridge process and where other bridges reach it (scale-out, ``conferencing.peers``).

    ``claim`` is the bridge site a ``wangnet bridge --site`` process runs, or
    ``"*"`` for the ``wangnet serve`` process that runs every bridge nobody
    else claimed. The row stays while the process lives (heartbeat) and goes
    when it stops cleanly; a killed process leaves its claim behind, so its
    bridge is not taken over while it restarts (see ``peers.CLAIM_TTL``).
    """

    __tablename__ = "conference_bridge_processes"

    claim: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(String(300), nullable=False)  # base URL of its web app (trunk endpoint)
    process: Mapped[str] = mapped_column(String(200), nullable=False)  # "hostname:pid"
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)


class SiteLevel(Base):
    """A site's audio level as heard by the bridge process it publishes to (scale-out, ``conferencing.levels``).

    Only the process running the city bridge detects the active speaker; the
    others write the levels of their sites here a couple of times a second
    (not per packet), and it reads them. One row per site, overwritten.
    """

    __tablename__ = "conference_site_levels"

    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id", ondelete="CASCADE"), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    level: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)  # 0..1 (RFC 6464 level)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
