"""Header fields (RFC 3261 §7.3, §20, §25): the ordered header list and parsers of the values we use.

Values stay as text until asked for: a REGISTER needs only a handful of them
parsed, and the registrar's hot path should not pay for the rest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator

from telephony.sip.errors import SipSyntaxError
from telephony.sip.uri import SipUri

#: compact forms (RFC 3261 §7.3.3 and later RFCs) → canonical names
COMPACT = {
    "v": "Via", "f": "From", "t": "To", "i": "Call-ID", "m": "Contact", "l": "Content-Length",
    "c": "Content-Type", "k": "Supported", "s": "Subject", "e": "Content-Encoding",
    "o": "Event", "r": "Refer-To", "u": "Allow-Events", "x": "Session-Expires", "b": "Referred-By",
}
#: headers whose value is a comma-separated list (so several lines or one line mean the same)
MULTI_VALUE = frozenset(
    k.lower() for k in ("Via", "Contact", "Route", "Record-Route", "Allow", "Supported", "Require",
                        "Proxy-Require", "Unsupported", "Accept", "Accept-Encoding", "Accept-Language",
                        "Allow-Events", "Content-Encoding", "In-Reply-To", "Path")
)
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_KEYS: dict[str, str] = {}


def canonical_key(name: str) -> str:
    """Lower-case lookup key of a header name, with compact forms expanded.

    Memoised for valid names only, so that the parser may take a hit in
    ``_KEYS`` as proof that the name is a well-formed token.
    """
    key = _KEYS.get(name)
    if key is None:
        key = name.lower()
        if len(key) == 1 and key in COMPACT:
            key = COMPACT[key].lower()
        if len(_KEYS) < 4096 and is_token(name):
            _KEYS[name] = key
    return key


def is_token(text: str) -> bool:
    return _TOKEN.fullmatch(text) is not None


class Headers:
    """Ordered header lines as written, with case- and compact-form-insensitive lookup."""

    __slots__ = ("_items", "_first")

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        # (name as written, value, lookup key)
        self._items: list[tuple[str, str, str]] = [(n, v, canonical_key(n)) for n, v in items] if items else []
        # lookup key -> first line's value, built on the first ``get`` and dropped by every change: a
        # REGISTER asks for a dozen headers, and a dict beats a dozen scans of the line list
        self._first: dict[str, str] | None = None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for name, value, _ in self._items:
            yield name, value

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: str) -> bool:
        key = canonical_key(name)
        return any(k == key for _, _, k in self._items)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first line's value of ``name``."""
        first = self._first
        if first is None:
            first = {}
            for _, value, k in reversed(self._items):
                first[k] = value
            self._first = first
        return first.get(_KEYS.get(name) or canonical_key(name), default)

    def get_lines(self, name: str) -> list[str]:
        """Every line's value of ``name`` (not split at commas)."""
        key = canonical_key(name)
        return [value for _, value, k in self._items if k == key]

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``: all lines, each split at top-level commas for list headers."""
        key = canonical_key(name)
        out: list[str] = []
        for _, value, k in self._items:
            if k == key:
                if key in MULTI_VALUE:
                    out.extend(split_values(value))
                else:
                    out.append(value)
        return out

    def add(self, name: str, value: str) -> None:
        self._first = None
        self._items.append((name, value, canonical_key(name)))

    def add_first(self, name: str, value: str) -> None:
        self._first = None
        self._items.insert(0, (name, value, canonical_key(name)))

    def insert_before(self, name: str, value: str) -> None:
        """Insert a line above the first line of the same header (e.g. a new top Via or Record-Route)."""
        self._first = None
        key = canonical_key(name)
        for i, (_, _, k) in enumerate(self._items):
            if k == key:
                self._items.insert(i, (name, value, key))
                return
        self._items.insert(0, (name, value, key))

    def set(self, name: str, value: str) -> None:
        """Replace every line of ``name`` with one line (in place of the first)."""
        self._first = None
        key = canonical_key(name)
        for i, (n, _, k) in enumerate(self._items):
            if k == key:
                self._items[i] = (n, value, key)
                self._items[i + 1 :] = [item for item in self._items[i + 1 :] if item[2] != key]
                return
        self._items.append((name, value, key))

    def remove(self, name: str) -> None:
        key = canonical_key(name)
        self._first = None
        self._items = [item for item in self._items if item[2] != key]

    def pop_first_value(self, name: str) -> str | None:
        """Remove the first value of a list header (the top Via, the top Route) and return it."""
        self._first = None
        key = canonical_key(name)
        for i, (n, value, k) in enumerate(self._items):
            if k == key:
                values = split_values(value) if key in MULTI_VALUE else [value]
                first, rest = values[0], values[1:]
                if rest:
                    self._items[i] = (n, ", ".join(rest), key)
                else:
                    del self._items[i]
                return first
        return None

    def copy(self) -> "Headers":
        new = Headers()
        new._items = list(self._items)
        new._first = self._first
        return new


def split_values(value: str) -> list[str]:
    """Split a list header at commas that are outside quotes and angle brackets."""
    if "," not in value:
        return [value.strip()]
    out: list[str] = []
    start = 0
    in_quote = in_angle = False
    i = 0
    n = len(value)
    while i < n:
        ch = value[i]
        if in_quote:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_quote = False
        elif ch == '"':
            in_quote = True
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch == "," and not in_angle:
            out.append(value[start:i].strip())
            start = i + 1
        i += 1
    if in_quote:
        raise SipSyntaxError(f"unterminated quoted string in {value!r}")
    out.append(value[start:].strip())
    if any(not part for part in out):
        raise SipSyntaxError(f"empty element in list {value!r}")
    return out


_PARAM_NAMES: set[str] = set()  # parameter names already checked to be tokens (branch, tag, expires, …)


def parse_params(text: str, where: str) -> dict[str, str | None]:
    """``;name=value;flag`` → dict (names lower-cased, quoted values unquoted)."""
    params: dict[str, str | None] = {}
    if not text:
        return params
    known = _PARAM_NAMES
    for part in _split_outside_quotes(text, ";", where):
        part = part.strip()
        if not part:
            continue
        name, eq, value = part.partition("=")
        name = name.strip().lower()
        if name not in known:
            if not is_token(name):
                raise SipSyntaxError(f"{where}: invalid parameter name {name!r}")
            if len(known) < 1024:
                known.add(name)
        value = value.strip()
        params[name] = unquote(value, where) if eq else None
    return params


def _split_outside_quotes(text: str, sep: str, where: str) -> list[str]:
    if '"' not in text:
        return text.split(sep)
    out, start, in_quote, i = [], 0, False, 0
    while i < len(text):
        ch = text[i]
        if in_quote and ch == "\\":
            i += 1
        elif ch == '"':
            in_quote = not in_quote
        elif ch == sep and not in_quote:
            out.append(text[start:i])
            start = i + 1
        i += 1
    if in_quote:
        raise SipSyntaxError(f"{where}: unterminated quoted string in {text!r}")
    out.append(text[start:])
    return out


def unquote(value: str, where: str = "value") -> str:
    """Strip the quotes of a quoted-string and undo its backslash escapes."""
    if not value.startswith('"'):
        return value
    if len(value) < 2 or not value.endswith('"') or value.endswith('\\"') and not value.endswith('\\\\"'):
        raise SipSyntaxError(f"{where}: unterminated quoted string {value!r}")
    inner = value[1:-1]
    if "\\" not in inner:
        return inner
    out, i = [], 0
    while i < len(inner):
        if inner[i] == "\\" and i + 1 < len(inner):
            i += 1
        out.append(inner[i])
        i += 1
    return "".join(out)


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class NameAddr:
    """From, To, Contact, Route values: optional display name, a URI, parameters (e.g. ``tag``)."""

    uri: str
    display: str = ""
    params: dict[str, str | None] = field(default_factory=dict)
    bracketed: bool = True

    @classmethod
    def parse(cls, value: str, where: str = "header") -> "NameAddr":
        value = value.strip()
        if not value:
            raise SipSyntaxError(f"{where} is empty")
        lt = value.find("<")
        if lt >= 0:
            display = value[:lt].strip()
            gt = value.find(">", lt)
            if gt < 0:
                raise SipSyntaxError(f"{where}: '<' without closing '>'")
            uri = value[lt + 1 : gt].strip()
            rest = value[gt + 1 :].strip()
            if display.startswith('"'):
                display = unquote(display, where)
            if rest and not rest.startswith(";"):
                raise SipSyntaxError(f"{where}: unexpected {rest!r} after the URI")
            params = parse_params(rest[1:], where) if rest else {}
            if not uri:
                raise SipSyntaxError(f"{where} has an empty URI")
            return cls(uri, display, params, True)
        if value.startswith('"'):
            raise SipSyntaxError(f"{where}: display name without a <URI>")
        # addr-spec form: parameters after the URI belong to the header, not the URI
        uri, _, rest = value.partition(";")
        if ":" not in uri or " " in uri:
            raise SipSyntaxError(f"{where}: {uri!r} is not a URI")
        return cls(uri, "", parse_params(rest, where), False)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def sip_uri(self, where: str = "header") -> SipUri:
        try:
            return SipUri.parse(self.uri)
        except SipSyntaxError as exc:
            raise SipSyntaxError(f"{where}: {exc}") from None

    def __str__(self) -> str:
        head = f"{quote(self.display)} <{self.uri}>" if self.display else f"<{self.uri}>"
        return head + "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params.items())


@dataclass
class Via:
    """One Via value: ``SIP/2.0/UDP host:port;branch=z9hG4bK…;rport;received=…``."""

    transport: str
    host: str
    port: int | None
    params: dict[str, str | None]

    @classmethod
    def parse(cls, value: str) -> "Via":
        proto, _, rest = value.strip().partition(" ")
        parts = proto.split("/")
        if len(parts) != 3 or parts[0].upper() != "SIP" or parts[1] != "2.0" or not parts[2]:
            raise SipSyntaxError(f"Via {value!r} does not start with SIP/2.0/<transport>")
        rest = rest.strip()
        sent_by, _, param_text = rest.partition(";")
        sent_by = sent_by.strip()
        if not sent_by:
            raise SipSyntaxError(f"Via {value!r} has no sent-by host")
        if sent_by.startswith("["):
            end = sent_by.find("]")
            host, port_text = sent_by[: end + 1], sent_by[end + 2 :] if end + 1 < len(sent_by) else ""
        else:
            host, _, port_text = sent_by.partition(":")
        port: int | None = None
        if port_text:
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise SipSyntaxError(f"Via {value!r} has an invalid port {port_text!r}")
            port = int(port_text)
        return cls(parts[2].upper(), host, port, parse_params(param_text, "Via"))

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    def reply_address(self) -> tuple[str, int]:
        """Where responses go (RFC 3261 §18.2.2 with RFC 3581 rport)."""
        host = self.params.get("received") or self.host
        rport = self.params.get("rport")
        if rport and rport.isdigit():
            return host, int(rport)
        return host, self.port or 5060

    def __str__(self) -> str:
        sent_by = self.host if self.port is None else f"{self.host}:{self.port}"
        params = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params.items())
        return f"SIP/2.0/{self.transport} {sent_by}{params}"


def parse_cseq(value: str) -> tuple[int, str]:
    """``CSeq: 314159 INVITE`` → (314159, "INVITE")."""
    number, _, method = value.strip().partition(" ")
    method = method.strip()
    if not number.isdigit() or len(number) > 10 or int(number) >= 2**31:
        raise SipSyntaxError(f"CSeq {value!r} has an invalid sequence number")
    if not is_token(method):
        raise SipSyntaxError(f"CSeq {value!r} has no method")
    return int(number), method


_AUTH_PARAM = re.compile(r'[ \t]*([A-Za-z0-9\-.!%*_+`\'~]+)[ \t]*=[ \t]*(?:"([^"\\]*)"|([^",\s]*))[ \t]*(?:,|\Z)')


def parse_auth_params(value: str) -> tuple[str, dict[str, str]]:
    """``Digest username="a", realm="b", …`` → ("Digest", {"username": "a", …}).

    A hand-written scanner (str.find, no regex, no per-character loop): this
    runs for every authenticated REGISTER.
    """
    scheme, _, rest = value.strip().partition(" ")
    if not is_token(scheme):
        raise SipSyntaxError(f"Authorization {value!r} has no scheme")
    # the usual shape (name=token or name="text without escapes", comma-separated): when the pattern's
    # matches tile the whole text (nothing left over once they are removed), one findall in C has them all
    if not _AUTH_PARAM.sub("", rest):
        return scheme, {name.lower(): quoted or plain for name, quoted, plain in _AUTH_PARAM.findall(rest)}
    params: dict[str, str] = {}
    # otherwise the same pattern step by step, and for anything it cannot read, and every error message,
    # the scanner below
    pos, end, match = 0, len(rest), _AUTH_PARAM.match
    while pos < end:
        found = match(rest, pos)
        if found is None:
            break
        name, quoted, plain = found.groups()
        params[name.lower()] = plain if quoted is None else quoted
        pos = found.end()
    else:
        return scheme, params
    params.clear()
    pos = 0
    while pos < end:
        eq = rest.find("=", pos)
        comma = rest.find(",", pos)
        if eq < 0 or (0 <= comma < eq):
            item = rest[pos: comma if comma >= 0 else end].strip()
            if not item and comma >= 0:
                pos = comma + 1
                continue
            raise SipSyntaxError(f"Authorization parameter {item!r} is not name=value")
        name = rest[pos:eq].strip().lower()
        if not is_token(name):
            raise SipSyntaxError(f"Authorization parameter {rest[pos:eq].strip()!r} is not name=value")
        start = eq + 1
        while start < end and rest[start] in " \t":
            start += 1
        if start < end and rest[start] == '"':
            close = rest.find('"', start + 1)
            while close > 0 and rest[close - 1] == "\\":  # an escaped quote: keep looking
                backslashes = len(rest[start + 1 : close]) - len(rest[start + 1 : close].rstrip("\\"))
                if backslashes % 2 == 0:
                    break
                close = rest.find('"', close + 1)
            if close < 0:
                raise SipSyntaxError(f"Authorization parameter {name}: unterminated quoted string")
            raw = rest[start : close + 1]
            params[name] = unquote(raw) if "\\" in raw else raw[1:-1]
            after = rest.find(",", close + 1)
            if after < 0:
                if rest[close + 1 :].strip():
                    raise SipSyntaxError(f"Authorization parameter {name}: junk after the quoted string")
                break
            if rest[close + 1 : after].strip():
                raise SipSyntaxError(f"Authorization parameter {name}: junk after the quoted string")
            pos = after + 1
        else:
            stop = comma if comma >= 0 else end
            params[name] = rest[start:stop].strip()
            pos = stop + 1
    return scheme, params
