"""The watch folder: editors drop ``<programme>/<YYYY-MM-DD> <title>.mp4`` and it is ingested.

A file is taken only once its size has stayed the same for one full scan (a
copy in progress is left alone). Afterwards it moves to ``done/`` or to
``rejected/`` beside a ``.reason.txt`` that says why.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MEDIA_SUFFIXES = (".mp4", ".mov", ".mkv", ".ts", ".mxf", ".avi", ".flv", ".m4v")
_NAME = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})[ _-]+(?P<title>.+)$")


@dataclass(frozen=True)
class Drop:
    path: Path
    programme_id: str
    air_date: str
    title: str


def parse_drop(root: Path, path: Path) -> Drop | str:
    """A Drop for ``<root>/<programme>/<date> <title>.<ext>``, else the reason it is not one."""
    rel = path.relative_to(root)
    if len(rel.parts) != 2:
        return "put files in a folder named after the programme id (e.g. xwlb/2026-11-24 新闻联播.mp4)"
    match = _NAME.match(path.stem)
    if not match:
        return f"file name “{path.name}” must start with the date: YYYY-MM-DD title{path.suffix}"
    return Drop(path, rel.parts[0], match.group("date"), match.group("title").strip())


def candidates(root: Path) -> list[Path]:
    """Media files waiting in programme folders (not in done/ or rejected/)."""
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in ("done", "rejected")):
        found += sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in MEDIA_SUFFIXES)
    return found


class StableFiles:
    """Remembers sizes between scans; a file is ready when its size did not change since the last scan."""

    def __init__(self) -> None:
        self.sizes: dict[Path, int] = {}

    def ready(self, paths: list[Path]) -> list[Path]:
        out = []
        current = {}
        for p in paths:
            try:
                current[p] = p.stat().st_size
            except OSError:
                continue
            if self.sizes.get(p) == current[p]:
                out.append(p)
        self.sizes = current
        return out
