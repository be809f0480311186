"""Configuration backups (pure): what counts as a change, and the diff an engineer reads.

Devices print volatile lines in their running configuration — the time it was
generated, uptime, NTP clock drift, a changing checksum. Those must not create
a new version or clutter a diff; everything else does.
"""
from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass

VOLATILE = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^\s*!\s*(last configuration change|nvram config last updated|time:)",  # Cisco IOS headers
        r"^\s*!\s*software version",  # H3C/Huawei banner comment
        r"^\s*#\s*(generated|created|last (modified|change))\b",
        r"^\s*(current configuration|building configuration)",
        r"^\s*ntp clock-period\b",
        r"^\s*(uptime|system uptime)\b",
        r"^\s*!time:",
        r"^\s*#?\s*\d{4}-\d{2}-\d{2}[ t]\d{2}:\d{2}:\d{2}",  # a bare timestamp line
    )
]


@dataclass(frozen=True)
class Backup:
    text: str
    digest: str  # of the normalised text: equal digests mean no change worth storing


def normalise(text: str) -> str:
    """Drop volatile lines and trailing blanks; keep order and everything meaningful."""
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if any(p.search(line) for p in VOLATILE):
            continue
        lines.append(line.rstrip())
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def backup(text: str) -> Backup:
    return Backup(text, hashlib.sha256(normalise(text).encode("utf-8")).hexdigest())


def changed(previous_digest: str | None, new: Backup) -> bool:
    """Store a new version only when the meaningful content differs."""
    return previous_digest != new.digest


def diff(old: str, new: str, old_label: str = "previous", new_label: str = "current") -> str:
    """Unified diff of the normalised texts."""
    return "".join(
        difflib.unified_diff(
            normalise(old).splitlines(keepends=True), normalise(new).splitlines(keepends=True), old_label, new_label, n=3
        )
    )
