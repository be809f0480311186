"""What every participating site sees and hears: the one value host controls produce.

The host controls (``conferencing.controls``) turn the conference state into a
``Layout``; the media side (``conferencing.media``) only switches streams to
match it. Keeping it a plain frozen value lets both sides be tested alone and
lets the controller compare the new layout with the old one before asking the
bridges to switch (a switch costs a keyframe).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Mapping


@dataclass(frozen=True)
class SiteView:
    """One site's screen and loudspeaker."""

    main: str | None
    """Site id whose video fills the main slot (None = nothing)."""
    thumbs: tuple[str, ...] = ()
    """Site ids for thumbnail slots, at most ``plan.sites[site].max_thumbs``."""
    audio: tuple[str, ...] = ()
    """Site ids this site hears: muted sites are never listed, a site never hears itself."""

    def sources(self) -> tuple[str, ...]:
        """Every site whose video or audio this view needs, main first, without repeats."""
        seen: dict[str, None] = {}
        for site in (self.main, *self.thumbs, *self.audio):
            if site is not None:
                seen.setdefault(site, None)
        return tuple(seen)

    def video(self) -> tuple[str, ...]:
        """Site ids whose video this view shows, main first."""
        return tuple(s for s in (self.main, *self.thumbs) if s is not None)


@dataclass(frozen=True)
class Layout:
    """Views keyed by participating site id."""

    views: Mapping[str, SiteView] = field(default_factory=dict)

    def __iter__(self) -> Iterator[str]:
        return iter(self.views)

    def view(self, site: str) -> SiteView:
        """The view of one site; an absent site sees and hears nothing."""
        return self.views.get(site, SiteView(main=None))

    def to_json(self) -> dict[str, dict[str, object]]:
        """JSON-able form for the state API and the host console."""
        return {
            site: {"main": v.main, "thumbs": list(v.thumbs), "audio": list(v.audio)}
            for site, v in sorted(self.views.items())
        }
