"""Active-speaker detection from audio levels, with hysteresis so the picture does not flap.

Levels (0..1 per site) arrive a few times a second from the bridges. Each is
smoothed with a time constant, so a cough or a door slam does not win; a new
speaker must be the loudest, above ``threshold`` and ``margin`` times louder
than the current one, continuously for ``switch_after`` seconds. The current
speaker stays on screen through pauses (people breathe); it is dropped at once
only when excluded (muted, or gone). Pure: the caller passes the clock.
"""
from __future__ import annotations

import math
from typing import Collection, Mapping


class SpeakerDetector:
    def __init__(self, threshold: float = 0.05, margin: float = 1.5, switch_after: float = 1.0,
                 tau: float = 0.3) -> None:
        if not 0 < threshold < 1 or margin < 1 or switch_after < 0 or tau <= 0:
            raise ValueError("speaker detector: threshold in (0, 1), margin >= 1, switch_after >= 0, tau > 0")
        self.threshold, self.margin, self.switch_after, self.tau = threshold, margin, switch_after, tau
        self.speaker: str | None = None
        self.smoothed: dict[str, float] = {}
        self._last: float | None = None
        self._candidate: str | None = None
        self._since = 0.0

    def update(self, levels: Mapping[str, float], now: float, exclude: Collection[str] = ()) -> str | None:
        """Feed one set of levels taken at ``now`` (seconds); returns the speaker after it."""
        dt = 0.0 if self._last is None else max(0.0, now - self._last)
        self._last = now
        alpha = 1.0 if dt == 0.0 and not self.smoothed else 1.0 - math.exp(-dt / self.tau)
        for site in set(self.smoothed) | set(levels):
            raw = levels.get(site, 0.0)
            level = min(1.0, max(0.0, raw)) if isinstance(raw, (int, float)) and not math.isnan(raw) else 0.0
            prev = self.smoothed.get(site, 0.0)
            self.smoothed[site] = prev + alpha * (level - prev)
        if self.speaker in exclude:
            self.speaker = None
        ranked = sorted(((v, s) for s, v in self.smoothed.items() if s not in exclude), reverse=True)
        loudest, level = (ranked[0][1], ranked[0][0]) if ranked else (None, 0.0)
        current = self.smoothed.get(self.speaker, 0.0) if self.speaker is not None else 0.0
        qualifies = (loudest is not None and loudest != self.speaker and level >= self.threshold
                     and level >= current * self.margin)
        if not qualifies:
            self._candidate = None
            return self.speaker
        if loudest != self._candidate:
            self._candidate, self._since = loudest, now
        if self.speaker is None or now - self._since >= self.switch_after:
            self.speaker, self._candidate = loudest, None
        return self.speaker

    def forget(self, site: str) -> None:
        """A site left: drop its level (and the speaker role if it had it)."""
        self.smoothed.pop(site, None)
        if self.speaker == site:
            self.speaker = None
        if self._candidate == site:
            self._candidate = None
