"""Serving HLS: which files exist, their MIME types, and master playlists capped for a slow site.

Python's ``mimetypes`` calls ``.ts`` Qt Linguist or TypeScript; players need
``video/mp2t``. Names are checked against a strict pattern before any path is
built from them, so a request can never leave an episode's directory.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MEDIA_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
}
_NAME = re.compile(r"^(?:master\.m3u8|thumb\.jpg|(?P<rung>[0-9]{3,4}p)/(?:index\.m3u8|seg_[0-9]{5}\.(?:ts|m4s)|init(?:_[0-9]{1,2})?\.mp4))$")


def media_name(name: str) -> tuple[str, str | None] | None:
    """(MIME type, rung or None) for a servable file name, None for anything else."""
    match = _NAME.match(name)
    if not match:
        return None
    suffix = name[name.rindex("."):]
    return MEDIA_TYPES[suffix], match.group("rung")


def is_segment(name: str) -> bool:
    """Media segments and init files: immutable once published, so cacheable."""
    return name.endswith((".ts", ".m4s", ".mp4"))


@dataclass(frozen=True)
class Variant:
    bandwidth: int
    uri: str
    attributes: str


_STREAM_INF = re.compile(r"^#EXT-X-STREAM-INF:(.*)$")
_BANDWIDTH = re.compile(r"(?:^|,)BANDWIDTH=(\d+)")


def parse_master(text: str) -> tuple[list[str], list[Variant]]:
    """Header lines and variants of a master playlist."""
    header: list[str] = []
    variants: list[Variant] = []
    lines = [line.rstrip("\r") for line in text.splitlines()]
    i = 0
    while i < len(lines):
        line = lines[i]
        match = _STREAM_INF.match(line)
        if match:
            uri = next((u for u in lines[i + 1:] if u.strip() and not u.startswith("#")), "")
            bw = _BANDWIDTH.search(match.group(1))
            variants.append(Variant(int(bw.group(1)) if bw else 0, uri.strip(), match.group(1)))
            i = lines.index(uri, i + 1) + 1 if uri else i + 1
            continue
        if line.strip() and not variants:
            header.append(line)
        i += 1
    return header, variants


def cap_master(text: str, max_bandwidth: int | None) -> str:
    """The master playlist without rungs above ``max_bandwidth`` bit/s (the lowest rung always stays)."""
    header, variants = parse_master(text)
    if max_bandwidth is not None:
        kept = [v for v in variants if v.bandwidth <= max_bandwidth]
        if not kept and variants:
            kept = [min(variants, key=lambda v: v.bandwidth)]
        variants = kept
    body = "".join(f"#EXT-X-STREAM-INF:{v.attributes}\n{v.uri}\n" for v in variants)
    return "\n".join(header) + "\n" + body
