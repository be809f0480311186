"""Conferences in the store: create, invite by tier, start, end, host controls, who is there.

Plain functions over a SQLAlchemy session so the web views, the controller
service and the CLI share one set of rules (which transitions are allowed,
who may be invited). Every refusal is a ``RoomError`` whose message says what
is wrong; the web turns it into a 400/409 without a traceback.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from conferencing.controls import ControlState
from conferencing.models import EVENT_KINDS, MODES, Conference, InvitedSite, ParticipationEvent
from conferencing.plan import CascadePlan, plan_cascade
from topology.schema import Inventory
from wangnet.accounts import User, utcnow
from wangnet.linkload import link_utilisation

TIERS = ("all-banners", "all-townships", "everyone")
"""Invitation by tier: every banner, every township, or the whole 王."""
MAX_ROTATE_SECONDS = 3600


class RoomError(ValueError):
    """A conference operation was refused; the message says why."""


class NotFound(RoomError):
    """No such conference."""


class Conflict(RoomError):
    """The operation does not apply in the conference's current state (e.g. starting an ended one)."""


# ------------------------------------------------------------ invitations

def _find_banner(inv: Inventory, banner: str) -> str:
    """A banner by id, Chinese name (达拉特旗) or English name."""
    for site in inv.sites:
        if site.tier == "banner" and banner.strip() in (site.id, site.name, site.name_en):
            return site.id
    raise RoomError(f'unknown banner "{banner}": give a banner id (e.g. dalad) or its name (e.g. 达拉特旗)')


def resolve_invitation(inv: Inventory, tier: str | None = None, banner: str | None = None,
                       sites: Sequence[str] | None = None) -> list[str]:
    """The site ids an invitation names, in inventory order: by tier, a banner's townships, or single sites."""
    if sum(x is not None and x != "" and x != [] for x in (tier, banner, sites)) != 1:
        raise RoomError("invite exactly one of: tier, banner (its townships) or sites")
    for field_name, value in (("tier", tier), ("banner", banner)):
        if value is not None and not isinstance(value, str):
            raise RoomError(f"{field_name} must be a string, not {type(value).__name__}")
    if tier:
        if tier not in TIERS:
            raise RoomError(f'unknown tier "{tier}" (known: {", ".join(TIERS)})')
        wanted = {"all-banners": ("banner",), "all-townships": ("township",),
                  "everyone": ("city", "banner", "township")}[tier]
        return [s.id for s in inv.sites if s.tier in wanted]
    if banner:
        return [s.id for s in inv.children(_find_banner(inv, banner))]
    assert sites is not None
    if not isinstance(sites, (list, tuple)) or not all(isinstance(s, str) for s in sites):
        raise RoomError("sites must be a list of site ids")
    out: list[str] = []
    for site_id in sites:
        try:
            inv.site(site_id)
        except KeyError:
            raise RoomError(f'unknown site "{site_id}": not in the inventory') from None
        if site_id not in out:
            out.append(site_id)
    return out


# ------------------------------------------------------------ conferences

def get_conference(session: Session, cid: int) -> Conference | None:
    return session.get(Conference, cid)


def require(session: Session, cid: int) -> Conference:
    conf = session.get(Conference, cid)
    if conf is None:
        raise NotFound(f"no conference {cid}")
    return conf


def list_conferences(session: Session, limit: int = 100) -> list[Conference]:
    stmt = select(Conference).order_by(Conference.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def invited_sites(conf: Conference) -> list[str]:
    return [row.site_id for row in conf.sites]


def is_invited(session: Session, cid: int, site: str) -> bool:
    """True when ``site`` may join conference ``cid`` (it is invited and the conference is not over)."""
    conf = session.get(Conference, cid)
    return conf is not None and conf.state != "ended" and site in invited_sites(conf)


def conferences_for_site(session: Session, site: str) -> list[Conference]:
    """Conferences not yet ended that invited ``site``: what a site account may join."""
    stmt = (select(Conference).join(InvitedSite).where(InvitedSite.site_id == site, Conference.state != "ended")
            .order_by(Conference.id.desc()))
    return list(session.scalars(stmt))


def site_of_user(session: Session, user_id: int) -> str | None:
    """The inventory site a user account is bound to (site accounts), else None."""
    user = session.get(User, user_id)
    return user.site_id if user is not None else None


def create_conference(session: Session, inv: Inventory, title: str, host: str,
                      host_site: str | None = None) -> Conference:
    """A draft conference; the host's site (the city by default) is invited at once."""
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise RoomError("a conference needs a title of 1 to 200 characters")
    if host_site is None:
        host_site = next((s.id for s in inv.sites if s.tier == "city"), None)
        if host_site is None:
            raise RoomError("the inventory has no city site for the host")
    resolve_invitation(inv, sites=[host_site])
    conf = Conference(title=title, host=host, host_site=host_site, state="draft", mode="default", muted="[]",
                      rotate_seconds=0.0, grid=True, revision=0)
    conf.sites = [InvitedSite(site_id=host_site, invited_by=host)]
    session.add(conf)
    session.flush()
    return conf


def invite(session: Session, conf: Conference, site_ids: Iterable[str], actor: str) -> list[str]:
    """Invite sites (already resolved against the inventory); returns those newly invited."""
    if conf.state == "ended":
        raise Conflict(f"conference {conf.id} has ended: nobody can be invited")
    have = set(invited_sites(conf))
    added = [s for s in site_ids if s not in have]
    for site_id in added:
        conf.sites.append(InvitedSite(site_id=site_id, invited_by=actor))
    if added:
        conf.revision += 1
    session.flush()
    return added


def start(session: Session, conf: Conference) -> None:
    if conf.state != "draft":
        raise Conflict(f"conference {conf.id} is {conf.state}: only a draft can be started")
    conf.state, conf.started_at = "running", utcnow()
    conf.revision += 1
    session.flush()


def end(session: Session, conf: Conference) -> None:
    if conf.state == "ended":
        raise Conflict(f"conference {conf.id} has already ended")
    conf.state, conf.ended_at = "ended", utcnow()
    conf.revision += 1
    session.flush()


# ------------------------------------------------------------ host controls

def muted_sites(conf: Conference) -> frozenset[str]:
    try:
        value = json.loads(conf.muted or "[]")
    except ValueError:
        return frozenset()
    return frozenset(v for v in value if isinstance(v, str))


def _invited(conf: Conference, site: str) -> str:
    if not isinstance(site, str) or site not in invited_sites(conf):
        raise RoomError(f'site "{site}" is not invited to conference {conf.id}')
    return site


def _controllable(conf: Conference) -> None:
    if conf.state == "ended":
        raise Conflict(f"conference {conf.id} has ended")


def set_focus(session: Session, conf: Conference, mode: str, site: str | None) -> None:
    """Roll-call (点名) or broadcast (广播) a site; ``site`` None goes back to the default layout."""
    _controllable(conf)
    if mode not in MODES:
        raise RoomError(f'unknown mode "{mode}" (known: {", ".join(MODES)})')
    if site is None or mode == "default":
        conf.mode, conf.focus = "default", None
    else:
        conf.mode, conf.focus = mode, _invited(conf, site)
    conf.revision += 1
    session.flush()


def set_rotation(session: Session, conf: Conference, seconds: float) -> None:
    """Rotate (轮巡) the host's main view through the sites every ``seconds`` (0 stops)."""
    _controllable(conf)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not (
            seconds == 0 or 2 <= seconds <= MAX_ROTATE_SECONDS):
        raise RoomError(f"rotation seconds must be 0 (off) or from 2 to {MAX_ROTATE_SECONDS}, not {seconds!r}")
    conf.rotate_seconds = float(seconds)
    conf.revision += 1
    session.flush()


def set_muted(session: Session, conf: Conference, site: str, muted: bool) -> None:
    _controllable(conf)
    if not isinstance(muted, bool):
        raise RoomError("muted must be true or false")
    now = set(muted_sites(conf))
    (now.add if muted else now.discard)(_invited(conf, site))
    conf.muted = json.dumps(sorted(now))
    conf.revision += 1
    session.flush()


def set_grid(session: Session, conf: Conference, grid: bool) -> None:
    _controllable(conf)
    conf.grid = bool(grid)
    conf.revision += 1
    session.flush()


def control_state(conf: Conference, rotation_index: int = 0) -> ControlState:
    return ControlState(
        host_site=conf.host_site, mode=conf.mode, focus=conf.focus, muted=muted_sites(conf),
        speaker=conf.speaker, grid=conf.grid, rotate_seconds=conf.rotate_seconds, rotation_index=rotation_index,
    )


# ------------------------------------------------------------ participation

def record_event(session: Session, cid: int, site: str, kind: str, resource: str = "",
                 at: datetime | None = None) -> ParticipationEvent:
    if kind not in EVENT_KINDS:
        raise RoomError(f'unknown participation event "{kind}" (known: {", ".join(EVENT_KINDS)})')
    row = ParticipationEvent(conference_id=cid, site_id=site, kind=kind, resource=resource or "", at=at or utcnow())
    session.add(row)
    session.flush()
    return row


def events(session: Session, cid: int) -> list[ParticipationEvent]:
    stmt = select(ParticipationEvent).where(ParticipationEvent.conference_id == cid).order_by(ParticipationEvent.id)
    return list(session.scalars(stmt))


def presence(session: Session, cid: int) -> dict[str, str]:
    """Site -> its last participation event kind ("joined" = there now)."""
    return {e.site_id: e.kind for e in events(session, cid)}


def conference_plan(conf: Conference, inv: Inventory, engine: Engine | None = None) -> CascadePlan:
    """The cascade for the invited sites, fitted to the links' current load when the collectors measured it."""
    util = link_utilisation(engine, inv) if engine is not None else None
    return plan_cascade(inv, invited_sites(conf), utilisation=util)
