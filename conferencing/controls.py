"""Host controls as a pure function: conference state + cascade plan -> what every site sees and hears.

- default: everyone sees the current speaker (the host until someone speaks)
  with the host as a thumbnail, and hears the speaker and the host;
- roll-call 点名: everyone sees and hears the called site, the called site
  sees and hears the host (so the two can talk);
- broadcast 广播: one site to all — everyone sees and hears only it;
- rotation 轮巡: in the default mode the host's main view steps through the
  sites every N seconds (``rotation_index`` is advanced by the controller);
- mute: a muted site is never in anyone's audio and never becomes speaker;
- grid: the host's thumbnails show every other site, as many as its plan allows.

Every view is cut to the site's plan (``max_thumbs``, ``max_audio``, no video
when only audio fits), so what the controls ask never exceeds the link.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from conferencing.layout import Layout, SiteView
from conferencing.plan import CascadePlan, SitePlan


@dataclass(frozen=True)
class ControlState:
    """The host's choices plus the detected speaker."""

    host_site: str
    mode: str = "default"          # default | rollcall | broadcast
    focus: str | None = None       # the roll-called or broadcast site
    muted: frozenset[str] = frozenset()
    speaker: str | None = None
    grid: bool = True
    rotate_seconds: float = 0.0
    rotation_index: int = 0


def _first(candidates: Iterable[str | None], exclude: str, present: set[str]) -> str | None:
    return next((c for c in candidates if c is not None and c != exclude and c in present), None)


def _pick(candidates: Iterable[str | None], exclude: Sequence[str | None], present: set[str], limit: int,
          muted: frozenset[str] = frozenset()) -> tuple[str, ...]:
    out: list[str] = []
    for c in candidates:
        if len(out) >= limit:
            break
        if c is None or c in exclude or c not in present or c in muted or c in out:
            continue
        out.append(c)
    return tuple(out)


def rotation_order(plan: CascadePlan, state: ControlState, present: Iterable[str]) -> tuple[str, ...]:
    """The sites the host's view rotates through: everyone there but the host, in plan order."""
    here = set(present)
    return tuple(s for s in plan.sites if s in here and s != state.host_site)


def rotation_target(plan: CascadePlan, state: ControlState, present: Iterable[str]) -> str | None:
    order = rotation_order(plan, state, present)
    if state.rotate_seconds <= 0 or not order:
        return None
    return order[state.rotation_index % len(order)]


def _view(site: str, sp: SitePlan, main: str | None, thumbs: Iterable[str | None], audio: Iterable[str | None],
          present: set[str], muted: frozenset[str]) -> SiteView:
    if main == site or main not in present:
        main = None
    if not sp.video:
        main, thumb_ids = None, ()
    else:
        thumb_ids = _pick(thumbs, (site, main), present, sp.max_thumbs)
    return SiteView(main=main, thumbs=thumb_ids, audio=_pick(audio, (site,), present, sp.max_audio, muted))


def build_layout(state: ControlState, plan: CascadePlan, present: Iterable[str] | None = None) -> Layout:
    """The layout for the sites ``present`` (joined); all invited sites when not known."""
    here = set(plan.sites) if present is None else {s for s in present if s in plan.sites}
    host, muted = state.host_site, state.muted
    speaker = state.speaker if state.speaker in here and state.speaker not in muted else None
    focus = state.focus if state.mode in ("rollcall", "broadcast") else None
    others = [s for s in plan.sites if s != host]
    views: dict[str, SiteView] = {}
    for site in plan.sites:
        if site not in here:
            continue
        sp = plan.sites[site]
        grid = others if site == host and state.grid else []
        if focus is not None and state.mode == "broadcast":
            if site == focus:
                main = _first((host, speaker), site, here)
                views[site] = _view(site, sp, main, grid, (host,), here, muted)
            else:
                views[site] = _view(site, sp, focus, grid, (focus,), here, muted)
        elif focus is not None:  # roll-call
            if site == focus:
                main = _first((host, speaker), site, here)
                views[site] = _view(site, sp, main, (speaker,), (host, speaker), here, muted)
            else:
                main = _first((focus, speaker, host), site, here)
                views[site] = _view(site, sp, main, (host, *grid), (focus, host), here, muted)
        else:
            rotating = rotation_target(plan, state, here) if site == host else None
            if rotating is not None:
                main = rotating
            elif site == speaker or speaker is None:
                main = _first((host, *others), site, here) if site != host else _first((speaker, *others), site, here)
            else:
                main = speaker
            views[site] = _view(site, sp, main, (host, speaker, *grid), (speaker, host), here, muted)
    return Layout(views)
