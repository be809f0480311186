"""SDP checks and rewrites the bridge does before aiortc sees an offer (pure: text in, text out).

* ``check_offer`` turns a bad WHIP/WHEP body into one clear error naming the
  line, instead of an exception from deep inside aiortc.
* ``restrict_codecs`` cuts every m-line to the codecs the bridge forwards
  (video VP8 or H264 with packetization-mode 1 in a profile aiortc
  negotiates, audio Opus): a publisher (and a trunk) keeps exactly one —
  the first the bridge prefers that it offers — so its payloads can go to
  everybody untouched; a subscriber keeps all of them, so that each of its
  slots can be sent whatever codec the source it shows was published in
  (``choose_payload_type`` then picks the subscriber's payload type for it).
* ``keep_candidates`` drops remote ICE candidates the bridge cannot reach
  (a loopback-only bridge in tests and the demo).
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from conferencing.h264 import FORWARDED_PROFILES, fmtp_profile, fmtp_profile_level_id, h264_profile

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
_FMTP = re.compile(r"^a=fmtp:(\d+) (.*)$")
_FMTP_APT = re.compile(r"^a=fmtp:(\d+) .*\bapt=(\d+)")
_PT_ATTR = re.compile(r"^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)[ \t]")


def fmtp_parameters(text: str) -> dict[str, str]:
    """``a=fmtp`` parameters (``k=v;k2=v2``) as strings, keys lower-cased."""
    params = {}
    for part in text.split(";"):
        key, _, value = part.strip().partition("=")
        if key:
            params[key.lower()] = value.strip()
    return params


def h264_refusal(params: Mapping[str, object]) -> str | None:
    """Why the bridge cannot forward an H264 format with these fmtp parameters, or None when it can."""
    mode = str(params.get("packetization-mode", "0"))
    if mode != "1":
        return f"packetization-mode={mode}"
    plid = fmtp_profile_level_id(params)
    profile = h264_profile(plid)
    if profile not in FORWARDED_PROFILES:
        return f"profile-level-id={plid} ({profile or 'unknown profile'})"
    return None


def restrict_codecs(sdp: str, codecs: Mapping[str, str | Sequence[str]], one: bool = True) -> str:
    """Keep only the codecs ``codecs[kind]`` names (in preference order) and their RTX in each m-section.

    ``one``: keep only the first of them the section offers, in its first
    forwardable format (a publisher, a trunk); else keep every format of
    every one offered (a subscriber). An H264 format counts
    only with packetization-mode=1 and a profile aiortc negotiates
    (constrained baseline or baseline). SdpError names the m-line that offers
    none of them, and why its H264 formats do not count.
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
        preference = [wanted] if isinstance(wanted, str) else list(wanted)
        names = {int(m.group(1)): m.group(2).lower() for l in section if (m := _RTPMAP.match(l))}
        fmtps = {int(m.group(1)): fmtp_parameters(m.group(2)) for l in section if (m := _FMTP.match(l))}
        refused: list[str] = []
        usable: dict[str, set[int]] = {}
        for pt, name in names.items():
            if name == "h264":
                why = h264_refusal(fmtps.get(pt, {}))
                if why is not None:
                    refused.append(why)
                    continue
            usable.setdefault(name, set()).add(pt)
        offered = [n for n in preference if n.lower() in usable]
        if not offered:
            detail = f" (its H264 has {', '.join(sorted(set(refused)))})" if refused else ""
            accepted = " or ".join(preference)
            h264_note = (" (H264: packetization-mode=1, constrained baseline or baseline, e.g. 42e01f)"
                         if any(n.lower() == "h264" for n in preference) else "")
            raise SdpError(f"m-line {index} ({kind}) does not offer {accepted}{detail}; "
                           f"the bridge forwards {accepted} only{h264_note}")
        keep: set[int] = set()
        if one:  # one format: the first of that codec in the offer's order, so the publisher's is known exactly
            order = [int(f) for f in parts[3:] if f.isdigit()]
            keep.add(min(usable[offered[0].lower()], key=lambda pt: order.index(pt) if pt in order else len(order)))
        else:
            for name in offered:
                keep |= usable[name.lower()]
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


def choose_payload_type(negotiated: Sequence[tuple[int, str, Mapping[str, object]]], codec: str,
                        params: Mapping[str, object]) -> int | None:
    """The payload type a subscriber negotiated for a source's codec, or None when it cannot take it.

    ``negotiated``: (payload type, codec name, fmtp) per format of the
    subscriber's m-line; ``codec``/``params``: the source's. For H264 the
    payload type must have packetization-mode=1 and preferably the source's
    profile (a decoder of one baseline flavour decodes the other in practice,
    so a different forwarded profile is the fallback, not a refusal).
    """
    name = codec.lower()
    candidates = [(pt, p) for pt, n, p in negotiated if n.lower() == name]
    if name != "h264":
        return candidates[0][0] if candidates else None
    usable = [(pt, p) for pt, p in candidates if h264_refusal(p) is None]
    wanted = fmtp_profile(params)
    for pt, p in usable:
        if fmtp_profile(p) == wanted:
            return pt
    return usable[0][0] if usable else None


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
