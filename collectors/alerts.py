"""Alert lifecycle decisions (pure): when a root cause opens an alert and when it resolves.

A cause opens its alert at first sight — the engineer wants to know within
one poll. It resolves only after it has been absent for ``clear_after``
consecutive assessments, so a flapping link yields one alert whose flap count
rises, not a storm of open/resolve pairs. Damped, not hidden: the count is
shown.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable


@dataclass
class _Track:
    active: bool = False
    absent: int = 0
    flaps: int = 0


@dataclass(frozen=True)
class Decision:
    opened: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()
    flapped: tuple[str, ...] = ()  # already active keys that came back after a brief absence


@dataclass
class Hysteresis:
    """Per-key memory of recent assessments."""

    clear_after: int = 2
    _tracks: dict[str, _Track] = field(default_factory=dict)

    def restore(self, active_keys: Iterable[str]) -> None:
        """Resume with the alerts the store still has open (after a restart)."""
        for key in active_keys:
            self._tracks[key] = _Track(active=True)

    def observe(self, present: Iterable[str]) -> Decision:
        now = set(present)
        opened, resolved, flapped = [], [], []
        for key in sorted(now):
            track = self._tracks.setdefault(key, _Track())
            if not track.active:
                track.active = True
                opened.append(key)
            elif track.absent:
                track.flaps += 1
                flapped.append(key)
            track.absent = 0
        for key, track in sorted(self._tracks.items()):
            if key in now or not track.active:
                continue
            track.absent += 1
            if track.absent >= self.clear_after:
                track.active = False
                track.absent = 0
                resolved.append(key)
        for key in [k for k, t in self._tracks.items() if not t.active]:
            del self._tracks[key]
        return Decision(tuple(opened), tuple(resolved), tuple(flapped))

    def open(self, keys: Iterable[str]) -> Decision:
        """Open these keys now without counting an absence for the others (an early, partial assessment)."""
        opened = []
        for key in sorted(set(keys)):
            track = self._tracks.setdefault(key, _Track())
            if not track.active:
                track.active = True
                opened.append(key)
        return Decision(opened=tuple(opened))

    def is_active(self, key: str) -> bool:
        track = self._tracks.get(key)
        return bool(track and track.active)

    def flaps(self, key: str) -> int:
        track = self._tracks.get(key)
        return track.flaps if track else 0
