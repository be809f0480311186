"""The extension plan: every phone's number says where on the 王 it sits.

An extension has six digits, ``B TT NNN``:

* ``B`` — the banner digit. ``1`` is the city platform; the banners take
  ``2``–``9`` in the inventory's order (the first banner listed is ``2``).
* ``TT`` — the site under that banner. ``00`` is the banner (or city) site
  itself; its townships take ``01``–``99`` in the inventory's order.
* ``NNN`` — the station, ``001``–``999`` (``000`` is kept for the site's
  attendant and never handed out automatically), so each site has room for
  999 phones.

For example, with the sample inventory 达拉特旗 (``dalad``, the second banner
listed) is ``300``; its first township 树林召镇 is ``301``; the phone
``301015`` sits in 树林召镇. The city's phones are ``100001``–``100999``.

Why the inventory's order and not sorted ids: appending a township to the end
of its banner's list (the normal way the inventory grows) gives it the next
free ``TT`` and leaves every existing number alone, whereas a new id sorting
before existing ones would renumber them. Reordering existing sites in the
file *does* renumber: ``check_phones`` then reports the phones whose
extension no longer fits their site. There is room for eight banners and 99
townships per banner; an inventory beyond that is refused with a message
naming the first site that does not fit.

Pure: built from any object with ``sites`` (``id``, ``tier``, ``parent``),
no database, no Flask.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

EXTENSION_LENGTH = 6
CITY_DIGIT = "1"
BANNER_DIGITS = "23456789"
MAX_TOWNSHIPS_PER_BANNER = 99
FIRST_STATION = 1
LAST_STATION = 999
EXTENSION_RE = re.compile(r"^[0-9]{6}$")


class PlanError(ValueError):
    """An extension or an inventory does not fit the plan; the message says why."""


class _Site(Protocol):
    id: str
    tier: str
    parent: str | None


class _Inventory(Protocol):
    sites: Sequence[_Site]


@dataclass(frozen=True)
class SitePrefix:
    """The block of extensions one site owns: ``prefix`` followed by a 3-digit station."""

    site_id: str
    tier: str
    banner_id: str | None  # the banner this site belongs to (itself for a banner), None for the city
    prefix: str

    @property
    def first(self) -> str:
        return f"{self.prefix}{FIRST_STATION:03d}"

    @property
    def last(self) -> str:
        return f"{self.prefix}{LAST_STATION:03d}"

    @property
    def capacity(self) -> int:
        return LAST_STATION - FIRST_STATION + 1


@dataclass(frozen=True)
class ExtensionPlan:
    """Prefix per site, and the reverse lookup from an extension to its site."""

    sites: dict[str, SitePrefix]  # by site id, in inventory order
    by_prefix: dict[str, str]  # prefix -> site id

    def prefix_of(self, site_id: str) -> SitePrefix:
        try:
            return self.sites[site_id]
        except KeyError:
            raise PlanError(f'unknown site "{site_id}"') from None

    def site_of(self, extension: str) -> str:
        """The site an extension belongs to, or PlanError saying what is wrong with it."""
        check_syntax(extension)
        site_id = self.by_prefix.get(extension[:3])
        if site_id is None:
            raise PlanError(f'extension {extension} has prefix {extension[:3]}, which belongs to no site')
        return site_id

    def validate(self, extension: str, site_id: str) -> None:
        """Refuse an extension outside the site's block, naming the block it should be in."""
        block = self.prefix_of(site_id)
        check_syntax(extension)
        if not extension.startswith(block.prefix):
            owner = self.by_prefix.get(extension[:3])
            where = f' (that block belongs to site "{owner}")' if owner else ""
            raise PlanError(
                f'extension {extension} is not in site "{site_id}"\'s block {block.first}–{block.last}{where}'
            )
        station = int(extension[3:])
        if station < FIRST_STATION:
            raise PlanError(f"extension {extension}: station 000 is reserved for the site's attendant")

    def next_free(self, site_id: str, used: Iterable[str]) -> str:
        """The lowest unused extension of the site; PlanError when the block is full."""
        block = self.prefix_of(site_id)
        taken = {int(e[3:]) for e in used if len(e) == EXTENSION_LENGTH and e.startswith(block.prefix) and e.isdigit()}
        for station in range(FIRST_STATION, LAST_STATION + 1):
            if station not in taken:
                return f"{block.prefix}{station:03d}"
        raise PlanError(f'site "{site_id}" has no free extension left ({block.first}–{block.last} all used)')

    def banner_of(self, site_id: str) -> str | None:
        return self.prefix_of(site_id).banner_id


def check_syntax(extension: str) -> None:
    if not EXTENSION_RE.match(extension or ""):
        raise PlanError(f"extension {extension!r} must be exactly {EXTENSION_LENGTH} digits (B TT NNN)")


def build_plan(inventory: _Inventory) -> ExtensionPlan:
    """Derive every site's prefix from the inventory (see the module docstring for the scheme)."""
    sites: dict[str, SitePrefix] = {}
    cities = [s for s in inventory.sites if s.tier == "city"]
    banners = [s for s in inventory.sites if s.tier == "banner"]
    if len(cities) > 1:
        raise PlanError(f'the plan has room for one city; site "{cities[1].id}" is a second one')
    if len(banners) > len(BANNER_DIGITS):
        raise PlanError(
            f'the plan has room for {len(BANNER_DIGITS)} banners (digits 2–9); banner "{banners[len(BANNER_DIGITS)].id}" does not fit'
        )
    for city in cities:
        sites[city.id] = SitePrefix(city.id, "city", None, f"{CITY_DIGIT}00")
    banner_digit = {}
    for digit, banner in zip(BANNER_DIGITS, banners):
        banner_digit[banner.id] = digit
        sites[banner.id] = SitePrefix(banner.id, "banner", banner.id, f"{digit}00")
    count: dict[str, int] = {}
    for site in inventory.sites:
        if site.tier != "township":
            continue
        if site.parent not in banner_digit:
            raise PlanError(f'township "{site.id}" has no banner parent, so it has no prefix')
        count[site.parent] = count.get(site.parent, 0) + 1  # type: ignore[index]
        n = count[site.parent]  # type: ignore[index]
        if n > MAX_TOWNSHIPS_PER_BANNER:
            raise PlanError(
                f'banner "{site.parent}" has more than {MAX_TOWNSHIPS_PER_BANNER} townships; "{site.id}" does not fit'
            )
        sites[site.id] = SitePrefix(site.id, "township", site.parent, f"{banner_digit[site.parent]}{n:02d}")  # type: ignore[index]
    return ExtensionPlan(sites=sites, by_prefix={p.prefix: p.site_id for p in sites.values()})


def check_phones(plan: ExtensionPlan, phones: Iterable[tuple[str, str]]) -> list[str]:
    """Problems of existing (extension, site) pairs under a plan — e.g. after sites were reordered."""
    problems = []
    for extension, site_id in phones:
        try:
            plan.validate(extension, site_id)
        except PlanError as exc:
            problems.append(str(exc))
    return problems
