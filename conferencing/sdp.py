"""SDP checks and rewrites the bridge does before aiortc sees an offer (pure: text in, text out).

* ``check_offer`` turns a bad WHIP/WHEP body into one clear error naming the
  line, instead of an exception from deep inside aiortc.
* ``restrict_codecs`` pins every m-line to the bridge's one codec per kind
  (VP8, Opus): a browser offers VP8/VP9/H264/AV1 and aiortc answering would
  pick per peer, but a forwarding bridge must send every subscriber the
  publisher's codec, so all sides agree on one.
* ``keep_candidates`` drops remote ICE candidates the bridge cannot reach
  (a loopback-only bridge in tests and the demo).
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Callable

MAX_SDP_BYTES = 64 * 1024


class SdpError(ValueError):
    """The body is not an SDP offer the bridge can take; the message names what and where."""


@dataclass(frozen=True)
class MediaLine:
    kind: str
    direction: str
    mid: str | None


def _lines(sdp: str) -> list[str]:
    return sdp.replace("\r\n", "\n").split("\n")


def check_offer(sdp: str) -> list[MediaLine]:
    """The offer's m-lines (audio/video only) or SdpError("line N: …")."""
    if not sdp or not sdp.strip():
        raise SdpError("empty body: expected an SDP offer (Content-Type: application/sdp)")
    if len(sdp) > MAX_SDP_BYTES:
        raise SdpError(f"SDP offer too large: {len(sdp)} bytes (at most {MAX_SDP_BYTES})")
    lines = _lines(sdp)
    if not lines[0].startswith("v=0"):
        raise SdpError(f'line 1: an SDP offer starts with "v=0", not {lines[0][:40]!r}')
    media: list[MediaLine] = []
    current: dict[str, str | None] | None = None
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        if len(line) < 2 or line[1] != "=" or not line[0].isalpha():
            raise SdpError(f"line {number}: not an SDP line (<type>=<value>): {line[:60]!r}")
        if line.startswith("m="):
            parts = line[2:].split()
            if len(parts) < 4:
                raise SdpError(f"line {number}: m-line needs <media> <port> <proto> <formats>: {line[:60]!r}")
            if current is not None:
                media.append(MediaLine(str(current["kind"]), str(current["direction"]), current["mid"]))
            current = {"kind": parts[0], "direction": "sendrecv", "mid": None}
        elif current is not None and line.startswith("a="):
            attr = line[2:]
            if attr in ("sendrecv", "sendonly", "recvonly", "inactive"):
                current["direction"] = attr
            elif attr.startswith("mid:"):
                current["mid"] = attr[4:]
    if current is not None:
        media.append(MediaLine(str(current["kind"]), str(current["direction"]), current["mid"]))
    av = [m for m in media if m.kind in ("audio", "video")]
    if not av:
        raise SdpError("the offer has no audio or video m-line")
    return av


_RTPMAP = re.compile(r"^a=rtpmap:(\d+) ([^/\s]+)/")
_FMTP_APT = re.compile(r"^a=fmtp:(\d+) .*\bapt=(\d+)")
_PT_ATTR = re.compile(r"^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)[ \t]")


def restrict_codecs(sdp: str, codecs: dict[str, str]) -> str:
    """Keep only ``codecs[kind]`` (e.g. {"video": "VP8", "audio": "opus"}) and its RTX in each m-section.

    SdpError names the m-line that does not offer the codec at all.
    """
    lines = _lines(sdp)
    out: list[str] = []
    section: list[str] = []
    index = 0

    def flush() -> None:
        nonlocal index
        if not section:
            return
        head = section[0]
        if not head.startswith("m="):
            out.extend(section)
            return
        index += 1
        parts = head[2:].split()
        kind = parts[0]
        wanted = codecs.get(kind)
        if wanted is None:
            out.extend(section)
            return
        names = {int(m.group(1)): m.group(2) for l in section if (m := _RTPMAP.match(l))}
        keep = {pt for pt, name in names.items() if name.lower() == wanted.lower()}
        if not keep:
            raise SdpError(f"m-line {index} ({kind}) does not offer {wanted}; the bridge forwards {wanted} only")
        for l in section:
            if (m := _FMTP_APT.match(l)) and int(m.group(2)) in keep:
                keep.add(int(m.group(1)))
        formats = [f for f in parts[3:] if f.isdigit() and int(f) in keep]
        out.append("m=" + " ".join(parts[:3] + formats))
        for l in section[1:]:
            m = _PT_ATTR.match(l)
            if m and int(m.group(1)) not in keep:
                continue
            out.append(l)

    for line in lines:
        if line.startswith("m="):
            flush()
            section = [line]
        else:
            section.append(line)
    flush()
    return "\r\n".join(out)


def is_loopback_candidate(line: str) -> bool:
    """True for an ``a=candidate`` line whose address is on 127.0.0.0/8 or ::1."""
    parts = line.split()
    if len(parts) < 6:
        return False
    try:
        return ipaddress.ip_address(parts[4]).is_loopback
    except ValueError:
        return False  # mDNS names (xxx.local) and garbage


def keep_candidates(sdp: str, keep: Callable[[str], bool]) -> str:
    """Drop ``a=candidate`` lines for which ``keep(line)`` is False."""
    return "\r\n".join(l for l in _lines(sdp) if not l.startswith("a=candidate:") or keep(l))
