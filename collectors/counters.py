"""Counter arithmetic: turning two SNMP counter readings into a rate, honestly.

SNMP counters only ever rise, except when they wrap (Counter32 at 2**32, which
a 1 Gbit/s interface does every ~34 s) or when the device reboots and starts
again from zero. A wrap is added back; a reboot — seen as sysUpTime going
backwards — discards the delta instead of turning it into a huge spike. A delta
larger than the interface could have carried is also discarded: it means a
counter discontinuity we did not see.
"""
from __future__ import annotations

from dataclasses import dataclass

COUNTER32_MODULO = 2**32
COUNTER64_MODULO = 2**64
# Tolerance above line rate before a delta is called impossible (bursts, clock skew).
LINE_RATE_SLACK = 1.25


@dataclass(frozen=True)
class Reading:
    """One counter value with the agent's sysUpTime (hundredths of a second) and our clock."""

    value: int
    uptime_ticks: int
    at: float  # poller's monotonic seconds


def counter_delta(previous: int, current: int, bits: int) -> int:
    """Increase of a counter of ``bits`` width between two readings, a wrap added back."""
    if current >= previous:
        return current - previous
    return current + (2**bits) - previous


def rebooted(previous_uptime: int, current_uptime: int) -> bool:
    """sysUpTime went backwards: the agent restarted and its counters with it."""
    return current_uptime < previous_uptime


def rate_per_second(
    previous: Reading, current: Reading, bits: int, max_per_second: float | None = None
) -> float | None:
    """Counter increase per second, or None when the interval cannot give an honest rate.

    None for: a reboot between the readings, no elapsed time, a 64-bit counter
    going backwards (a reset, since it cannot wrap in practice), or a delta
    beyond ``max_per_second`` (e.g. line rate in octets) times the interval.
    """
    if rebooted(previous.uptime_ticks, current.uptime_ticks):
        return None
    seconds = current.at - previous.at
    if seconds <= 0:
        return None
    if bits == 64 and current.value < previous.value:
        return None
    delta = counter_delta(previous.value, current.value, bits)
    per_second = delta / seconds
    if max_per_second is not None and per_second > max_per_second * LINE_RATE_SLACK:
        return None
    return per_second


def octets_ceiling(speed_mbps: float | None) -> float | None:
    """Most octets per second an interface of ``speed_mbps`` can carry (None when unknown)."""
    if not speed_mbps:
        return None
    return speed_mbps * 1_000_000 / 8


def utilisation(octets_per_second: float | None, speed_mbps: float | None) -> float | None:
    """Share of line rate in use, 0.0–1.0 (None when either side is unknown)."""
    ceiling = octets_ceiling(speed_mbps)
    if octets_per_second is None or ceiling is None:
        return None
    return min(octets_per_second / ceiling, 1.0)


def match_interfaces(previous: dict[int, str], current: dict[int, str]) -> dict[int, int]:
    """Map current ifIndex → previous ifIndex by ifName.

    Many devices renumber ifIndex after a reboot; the name is what stays. An
    interface whose name appears twice is left unmatched rather than guessed.
    """
    by_name: dict[str, int] = {}
    duplicate: set[str] = set()
    for index, name in previous.items():
        if name in by_name:
            duplicate.add(name)
        by_name[name] = index
    counts: dict[str, int] = {}
    for name in current.values():
        counts[name] = counts.get(name, 0) + 1
    return {
        index: by_name[name]
        for index, name in current.items()
        if name in by_name and name not in duplicate and counts[name] == 1
    }
