"""Rates per interface across polls: remembers the last reading of every counter (no I/O)."""
from __future__ import annotations

from dataclasses import dataclass

from collectors.counters import Reading, octets_ceiling, rate_per_second
from collectors.iftable import InterfaceRow, counter_bits


@dataclass(frozen=True)
class InterfaceRates:
    in_bps: float | None
    out_bps: float | None
    in_errors_per_s: float | None
    out_errors_per_s: float | None


class RateTracker:
    """Keyed by (device, ifName) so a reboot that renumbers ifIndex keeps the history."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str, str], Reading] = {}

    def update(self, device: str, row: InterfaceRow, uptime_ticks: int, at: float) -> InterfaceRates:
        ceiling = octets_ceiling(row.speed_mbps)
        rates: dict[str, float | None] = {}
        for column, value in row.counters.items():
            key = (device, row.name, column)
            current = Reading(value, uptime_ticks, at)
            previous = self._last.get(key)
            self._last[key] = current
            if previous is None:
                rates[column] = None
                continue
            limit = ceiling if column.endswith("octets") else None
            rates[column] = rate_per_second(previous, current, counter_bits(column), limit)
        return InterfaceRates(
            in_bps=rates["hc_in_octets"] * 8 if rates.get("hc_in_octets") is not None else None,
            out_bps=rates["hc_out_octets"] * 8 if rates.get("hc_out_octets") is not None else None,
            in_errors_per_s=rates.get("in_errors"),
            out_errors_per_s=rates.get("out_errors"),
        )

    def forget(self, device: str) -> None:
        for key in [k for k in self._last if k[0] == device]:
            del self._last[key]
