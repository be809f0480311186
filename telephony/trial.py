"""What the trial admin looks at: which phones are registered, where, since when.

Read-only queries over the registry and the bindings the registrar writes
behind. A phone counts as *registered* when it is enabled and has at least
one binding whose ``expires_at`` lies in the future; *unregistered* when it is
enabled without one; disabled phones are counted apart. Per site and per
banner (the banner's own site plus all its townships), so the 王 map can
shade each site by its registration share.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from telephony.models import Binding, Phone
from telephony.plan import ExtensionPlan


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is written in UTC."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _latest(*values: datetime | None) -> datetime | None:
    present = [as_utc(v) for v in values if v is not None]
    return max(present) if present else None  # type: ignore[type-var]


def active_binding_counts(session: Session, now: datetime | None = None) -> dict[int, int]:
    """phone id -> number of unexpired bindings."""
    now = now or utcnow()
    stmt = select(Binding.phone_id, func.count()).where(Binding.expires_at > now).group_by(Binding.phone_id)
    return {phone_id: n for phone_id, n in session.execute(stmt)}


def _binding_summary(now: datetime):  # type: ignore[no-untyped-def]
    return (
        select(
            Binding.phone_id.label("phone_id"),
            func.sum(case((Binding.expires_at > now, 1), else_=0)).label("active"),
            func.max(Binding.updated_at).label("seen"),
        )
        .group_by(Binding.phone_id)
        .subquery()
    )


@dataclass
class Counts:
    phones: int = 0
    enabled: int = 0
    registered: int = 0
    failed_attempts: int = 0
    last_registered_at: datetime | None = None

    @property
    def unregistered(self) -> int:
        return self.enabled - self.registered

    @property
    def disabled(self) -> int:
        return self.phones - self.enabled

    @property
    def share(self) -> float | None:
        """Registered share of the enabled phones; None when the site has none."""
        return self.registered / self.enabled if self.enabled else None

    def add(self, other: "Counts") -> None:
        self.phones += other.phones
        self.enabled += other.enabled
        self.registered += other.registered
        self.failed_attempts += other.failed_attempts
        self.last_registered_at = _latest(self.last_registered_at, other.last_registered_at)

    def as_dict(self) -> dict[str, object]:
        return {
            "phones": self.phones,
            "enabled": self.enabled,
            "registered": self.registered,
            "unregistered": self.unregistered,
            "disabled": self.disabled,
            "failed_attempts": self.failed_attempts,
            "share": None if self.share is None else round(self.share, 4),
            "last_registered_at": _iso(self.last_registered_at),
        }


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat(timespec="seconds") if value is not None else None  # type: ignore[union-attr]


def share_class(counts: Counts) -> str:
    """CSS class by registration share, the colour of a site on the map."""
    share = counts.share
    if share is None:
        return "share-none"
    if share >= 1.0:
        return "share-all"
    if share >= 0.5:
        return "share-most"
    if share > 0:
        return "share-some"
    return "share-zero"


@dataclass
class SiteStatus:
    site_id: str
    tier: str
    banner_id: str | None
    prefix: str
    counts: Counts = field(default_factory=Counts)


@dataclass
class Dashboard:
    sites: list[SiteStatus]  # every site of the plan, in inventory order
    banners: list[SiteStatus]  # per banner: its own site plus its townships
    totals: Counts
    unknown_sites: dict[str, Counts]  # phones whose site left the inventory

    def as_dict(self) -> dict[str, object]:
        def row(s: SiteStatus) -> dict[str, object]:
            return {"site": s.site_id, "tier": s.tier, "banner": s.banner_id, "prefix": s.prefix,
                    "class": share_class(s.counts), **s.counts.as_dict()}

        return {
            "totals": self.totals.as_dict(),
            "sites": [row(s) for s in self.sites],
            "banners": [row(b) for b in self.banners],
            "unknown_sites": {k: v.as_dict() for k, v in self.unknown_sites.items()},
        }


def dashboard(session: Session, plan: ExtensionPlan, now: datetime | None = None) -> Dashboard:
    """Registered / unregistered per site and per banner, in one grouped query."""
    now = now or utcnow()
    b = _binding_summary(now)
    registered = case((and_(Phone.enabled.is_(True), func.coalesce(b.c.active, 0) > 0), 1), else_=0)
    stmt = (
        select(
            Phone.site_id,
            func.count(Phone.id),
            func.sum(case((Phone.enabled.is_(True), 1), else_=0)),
            func.sum(registered),
            func.sum(Phone.failed_attempts),
            func.max(Phone.last_registered_at),
            func.max(b.c.seen),
        )
        .outerjoin(b, b.c.phone_id == Phone.id)
        .group_by(Phone.site_id)
    )
    by_site: dict[str, Counts] = {}
    for site_id, phones, enabled, reg, failed, last_reg, last_seen in session.execute(stmt):
        by_site[site_id] = Counts(
            phones=phones, enabled=int(enabled or 0), registered=int(reg or 0), failed_attempts=int(failed or 0),
            last_registered_at=_latest(last_reg, _parse(last_seen)),
        )
    sites = [
        SiteStatus(p.site_id, p.tier, p.banner_id, p.prefix, by_site.get(p.site_id, Counts()))
        for p in plan.sites.values()
    ]
    banners: dict[str, SiteStatus] = {}
    for s in sites:
        if s.tier == "banner":
            banners[s.site_id] = SiteStatus(s.site_id, s.tier, s.banner_id, s.prefix)
    for s in sites:
        if s.banner_id in banners:
            banners[s.banner_id].counts.add(s.counts)  # type: ignore[index]
    totals = Counts()
    for counts in by_site.values():
        totals.add(counts)
    unknown = {k: v for k, v in by_site.items() if k not in plan.sites}
    return Dashboard(sites=sites, banners=list(banners.values()), totals=totals, unknown_sites=unknown)


def user_agents(session: Session, limit: int = 20) -> list[tuple[str, int, int]]:
    """(user agent, phones, of which registered now) — which phone software the trial runs, most common first."""
    now = utcnow()
    active = select(Binding.phone_id).where(Binding.expires_at > now)
    registered = func.sum(case((and_(Phone.enabled.is_(True), Phone.id.in_(active)), 1), else_=0))
    stmt = (
        select(Phone.last_user_agent, func.count(Phone.id), registered)
        .where(Phone.last_user_agent != "")
        .group_by(Phone.last_user_agent)
        .order_by(func.count(Phone.id).desc(), Phone.last_user_agent)
        .limit(limit)
    )
    return [(ua, n, int(r or 0)) for ua, n, r in session.execute(stmt)]


def _parse(value: object) -> datetime | None:
    """A max() over a subquery column may come back as text on SQLite."""
    if value is None or isinstance(value, datetime):
        return value  # type: ignore[return-value]
    return datetime.fromisoformat(str(value))


@dataclass
class PhoneRow:
    phone: Phone
    active_bindings: int

    @property
    def registered(self) -> bool:
        return self.phone.enabled and self.active_bindings > 0

    @property
    def last_seen(self) -> datetime | None:
        return _latest(self.phone.last_registered_at, *(b.updated_at for b in self.phone.bindings))


@dataclass
class PhonePage:
    rows: list[PhoneRow]
    total: int
    page: int
    pages: int
    per_page: int


def sites_of_banner(plan: ExtensionPlan, banner_id: str) -> list[str]:
    return [p.site_id for p in plan.sites.values() if p.banner_id == banner_id]


def list_phones(
    session: Session,
    plan: ExtensionPlan,
    site: str | None = None,
    banner: str | None = None,
    registered: bool | None = None,
    query: str | None = None,
    page: int = 1,
    per_page: int = 50,
    now: datetime | None = None,
) -> PhonePage:
    """Phones filtered by site, banner, registration and free text, a page at a time, by extension."""
    now = now or utcnow()
    stmt = select(Phone)
    if site:
        stmt = stmt.where(Phone.site_id == site)
    if banner:
        stmt = stmt.where(Phone.site_id.in_(sites_of_banner(plan, banner)))
    active_ids = select(Binding.phone_id).where(Binding.expires_at > now)
    if registered is True:
        stmt = stmt.where(Phone.enabled.is_(True), Phone.id.in_(active_ids))
    elif registered is False:
        stmt = stmt.where(Phone.enabled.is_(True), Phone.id.not_in(active_ids))
    if query:
        like = f"%{query.strip()}%"
        stmt = stmt.where(or_(Phone.extension.like(like), Phone.display_name.like(like), Phone.owner.like(like),
                              Phone.mac.like(like.lower()), Phone.model.like(like)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max((total + per_page - 1) // per_page, 1)
    page = min(max(page, 1), pages)
    phones = list(session.scalars(stmt.order_by(Phone.extension).limit(per_page).offset((page - 1) * per_page)))
    counts = active_binding_counts(session, now)
    return PhonePage([PhoneRow(p, counts.get(p.id, 0)) for p in phones], total, page, pages, per_page)


def is_active(binding: Binding, now: datetime | None = None) -> bool:
    return as_utc(binding.expires_at) > (now or utcnow())  # type: ignore[operator]


def rows_for(phones: Iterable[Phone], session: Session, now: datetime | None = None) -> list[PhoneRow]:
    counts = active_binding_counts(session, now)
    return [PhoneRow(p, counts.get(p.id, 0)) for p in phones]
