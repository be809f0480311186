"""The collector of one banner (or of the city core) in a process of its own.

Polls the scope's observed devices, correlates on their part of the graph, and
writes only what the scope owns (``collectors.scope``), so that the collectors
of several banners share one database without touching each other's rows or
resolving each other's alerts.
"""
from __future__ import annotations

from typing import Iterable

from collectors.alerts import Decision, Hysteresis
from collectors.correlate import Assessment
from collectors.scope import Scope
from collectors.service import Collector
from collectors.snmp import PollResult


class OwnedHysteresis(Hysteresis):
    """Resumes only the open alerts of its own scope: another process's alerts are never resolved here."""

    def __init__(self, scope: Scope, clear_after: int = 2) -> None:
        super().__init__(clear_after)
        self.scope = scope

    def restore(self, active_keys: Iterable[str]) -> None:
        super().restore(k for k in active_keys if self.scope.owns_key(k))


class ScopedCollector(Collector):
    """A ``Collector`` narrowed to a ``Scope``; everything else (polling, confirmation, traps) is unchanged."""

    def __init__(self, *args, scope: Scope, clear_after: int = 2, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, clear_after=clear_after, **kwargs)
        self.scope = scope
        self.graph = scope.subgraph(self.graph)
        self.hysteresis = OwnedHysteresis(scope, clear_after)

    def _assess(self, results: list[PollResult], errors: dict[str, str]) -> Assessment:
        return self.scope.narrow(super()._assess(results, errors))

    def _record(self, results, errors, assessment, decision: Decision, rates, service_states=None):  # type: ignore[no-untyped-def, override]
        owned = self.scope.owned
        return super()._record(
            [r for r in results if r.device in owned],
            {d: e for d, e in errors.items() if d in owned},
            assessment,
            decision,
            {k: v for k, v in rates.items() if k[0] in owned},
            service_states,
        )
