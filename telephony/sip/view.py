"""A lazy view of a REGISTER datagram: the fast path's parser, for the one shape that dominates the load.

``parse_message`` builds a full ``Request`` (every header line kept, a
``Headers`` object, a ``Response`` object per answer); a REGISTER needs a
dozen header values and an answer that echoes five of its lines. ``scan_register``
checks every header line as cheaply as it can (a header name is accepted only
if the codec has already validated that exact spelling), keeps only the values
the registrar reads, and answers by joining the request's own echoed lines, so
the registrar's work is done on plain strings.

It is a *view*, not a second codec: it accepts a datagram only when it can
prove ``parse_message`` would accept it and return the same values, and
returns ``None`` otherwise (non-ASCII head, folded lines, header names the
codec has not yet seen and validated, several Via values, bad CSeq, …) — the
caller then takes the strict path, which answers exactly as before (400 with
the reason for malformed input). ``tests/unit/telephony/test_fastpath_differential.py``
holds the two paths to the same responses and binding effects.
"""
from __future__ import annotations

import re

from telephony.sip.errors import SipSyntaxError
from telephony.sip.headers import _KEYS, MULTI_VALUE, NameAddr, Via, canonical_key, parse_cseq, split_values
from telephony.sip.message import MAX_MESSAGE

# the keys the registrar reads, and the five whose lines an answer echoes
_WANTED = frozenset(("via", "from", "to", "call-id", "cseq", "contact", "expires", "authorization",
                     "user-agent", "max-forwards", "content-length"))
_ECHOED = frozenset(("via", "from", "to", "call-id", "cseq"))
# the usual spellings, validated once now (the codec memoises valid names only; others are learnt on the strict path)
for _name in ("Via", "From", "To", "Call-ID", "CSeq", "Contact", "Expires", "Authorization", "User-Agent",
              "Max-Forwards", "Content-Length", "Allow", "Supported", "Allow-Events", "Accept", "Event", "Path",
              "Require", "Date", "Content-Type", "Organization", "Call-Info", "X-Serialnumber",
              "v", "f", "t", "i", "m", "l", "k", "c", "u", "o", "call-id", "Call-Id", "Cseq", "CSEQ",
              "via", "from", "to", "contact", "expires", "authorization", "user-agent", "max-forwards", "content-length"):
    canonical_key(_name)
# the shapes Via.parse and parse_cseq need not see: what they would return is read off the match
_SIMPLE_VIA = re.compile(r"SIP/2\.0/[A-Za-z]+ ([A-Za-z0-9.\-]+):([1-9][0-9]{0,4});branch=([A-Za-z0-9.!%*_+`'~\-]+)(?:;rport)?")
_CSEQ = re.compile(r"[0-9]{1,9} REGISTER")
# "<uri>" alone: what NameAddr.parse would return without running it
_BARE_ADDR = re.compile(r"<([^<>\"]+)>")


class RegisterView:
    """What the registrar reads from a REGISTER (the same interface as ``Request`` for those reads)."""

    __slots__ = ("data", "uri", "first", "contacts", "echo", "key", "_to", "_lines")
    method = "REGISTER"

    def __init__(self, data: bytes, uri: str, first: dict[str, str], contacts: list[str],
                 echo: list[tuple[str, str, str]], key: tuple[str, str, int | None, str]) -> None:
        self.data = data
        self.uri = uri
        self.first = first  # lookup key → the first line's value, as parse_message's Headers.get gives it
        self.contacts = contacts  # every Contact line's value (not split)
        self.echo = echo  # (name as written, value, key) of the Via/From/To/Call-ID/CSeq lines, in order
        self.key = key  # the RFC 3261 §17.2.3 server-transaction key, as Request.transaction_key() gives it
        self._to: NameAddr | None = None

    # -- the part of Request/Headers the registrar uses --------------------------------------------
    @property
    def headers(self) -> "RegisterView":
        return self

    def get(self, name: str, default: str | None = None) -> str | None:
        key = _KEYS.get(name) or canonical_key(name)
        if key not in _WANTED:  # the view kept only what the registrar reads: asking for more is a bug
            raise KeyError(f"RegisterView does not keep {name}")
        return self.first.get(key, default)

    def get_all(self, name: str) -> list[str]:
        key = _KEYS.get(name) or canonical_key(name)
        if key != "contact":
            raise KeyError(f"RegisterView keeps all values of Contact only, not {name}")
        out: list[str] = []
        for value in self.contacts:
            out.extend(split_values(value) if key in MULTI_VALUE else [value])
        return out

    @property
    def call_id(self) -> str:
        return self.first.get("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        return parse_cseq(self.first.get("cseq") or "")

    @property
    def to(self) -> NameAddr:
        if self._to is None:
            value = self.first["to"].strip()
            bare = _BARE_ADDR.fullmatch(value)
            uri = bare.group(1).strip() if bare else ""
            self._to = NameAddr(uri, "", {}, True) if uri else NameAddr.parse(value, "To")
        return self._to

    # -- answers -----------------------------------------------------------------------------------
    def render(self, status: int, reason: str, to_tag: str | None, extra: list[tuple[str, str]]) -> bytes:
        """The response bytes ``Response.for_request(...)`` plus ``extra`` headers would serialise to."""
        lines = [f"SIP/2.0 {status} {reason}"]
        for name, value, key in self.echo:
            if key == "to" and to_tag and ";tag=" not in value.replace(" ", "").lower():
                value = f"{value};tag={to_tag}"
            lines.append(f"{name}: {value}")
        for name, value in extra:
            lines.append(f"{name}: {value}")
        lines.append("\r\n")
        return "\r\n".join(lines).encode("utf-8")


def scan_register(data: bytes) -> RegisterView | None:
    """A view of ``data`` if it is a REGISTER that ``parse_message`` would accept unchanged, else None."""
    if len(data) > MAX_MESSAGE or not data.startswith(b"REGISTER "):
        return None
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    raw = data[:end]
    if not raw.isascii():
        return None
    head = raw.decode("ascii")
    lines = head.split("\r\n")
    crlf = len(lines) - 1
    if head.count("\r") != crlf or head.count("\n") != crlf:  # a bare CR or LF
        return None
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] != "SIP/2.0":
        return None
    uri = parts[1]
    scheme, colon, rest = uri.partition(":")
    if not colon or not scheme.isalpha() or not rest:
        return None
    first: dict[str, str] = {}
    contacts: list[str] = []
    echo: list[tuple[str, str, str]] = []
    keys = _KEYS
    wanted = _WANTED
    for index in range(1, len(lines)):
        name, colon, value = lines[index].partition(":")
        key = keys.get(name)  # a hit proves a valid token (the codec memoises valid names only)
        if key is None or not colon:  # folded, no colon, odd spelling or blanks before ':': the codec decides
            return None
        if key in wanted:
            value = value.strip()
            if key not in first:
                first[key] = value
            if key == "contact":
                contacts.append(value)
            elif key in _ECHOED:
                echo.append((name, value, key))
    if "via" not in first or "from" not in first or "to" not in first or "call-id" not in first or "cseq" not in first:
        return None
    if _CSEQ.fullmatch(first["cseq"]) is None:  # the usual "<n> REGISTER"; anything else the codec's way
        try:
            if parse_cseq(first["cseq"])[1] != "REGISTER":
                return None
        except SipSyntaxError:
            return None
    via_value = first["via"]
    simple = _SIMPLE_VIA.fullmatch(via_value)
    if simple is not None and int(simple.group(2)) < 65536:
        key = (simple.group(3), simple.group(1), int(simple.group(2)), "REGISTER")
    else:
        try:
            via = Via.parse(split_values(via_value)[0])
        except SipSyntaxError:
            return None
        if not via.branch:
            return None
        key = (via.branch, via.host, via.port, "REGISTER")
    if not first["call-id"]:
        return None
    max_forwards = first.get("max-forwards")
    if max_forwards is not None and (not max_forwards.isdigit() or int(max_forwards) > 255):
        return None
    length = first.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > len(data) - end - 4):
        return None
    return RegisterView(data, uri, first, contacts, echo, key)
