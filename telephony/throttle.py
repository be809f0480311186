"""Throttling of repeated authentication failures per source address (guessing passwords costs time)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FailureThrottle:
    """After ``limit`` failures within ``window`` seconds a source is refused for ``block`` seconds."""

    limit: int = 5
    window: float = 60.0
    block: float = 60.0
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _blocked_until: dict[str, float] = field(default_factory=dict)

    def blocked(self, source: str, now: float) -> bool:
        until = self._blocked_until.get(source)
        if until is None:
            return False
        if until <= now:
            del self._blocked_until[source]
            return False
        return True

    def retry_after(self, source: str, now: float) -> int:
        return max(1, int(self._blocked_until.get(source, now) - now + 0.999))

    def fail(self, source: str, now: float) -> bool:
        """Record one failure; True when this failure starts a block."""
        times = [t for t in self._failures.get(source, ()) if now - t < self.window]
        times.append(now)
        if len(times) >= self.limit:
            self._failures.pop(source, None)
            self._blocked_until[source] = now + self.block
            return True
        self._failures[source] = times
        return False

    def succeed(self, source: str) -> None:
        self._failures.pop(source, None)

    def sweep(self, now: float) -> None:
        for source in [s for s, t in self._failures.items() if not t or now - t[-1] >= self.window]:
            del self._failures[source]
        for source in [s for s, u in self._blocked_until.items() if u <= now]:
            del self._blocked_until[source]
