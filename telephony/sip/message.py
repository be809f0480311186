"""SIP requests and responses (RFC 3261 §7): parse from bytes, serialise back to bytes.

``parse_message`` checks what every SIP element relies on — the start line,
header syntax, the mandatory headers, CSeq against the method, the top Via's
branch and Content-Length against the body — and raises ``SipSyntaxError``
with the line number and the reason, so that the service can answer 400 with
that reason or drop the datagram.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from telephony.sip.errors import SipSyntaxError
from telephony.sip.headers import _KEYS, Headers, NameAddr, Via, canonical_key, is_token, parse_cseq, split_values

MAX_MESSAGE = 65535
_ECHOED = frozenset(("via", "from", "call-id", "cseq"))
_REQUIRED = (("via", "Via"), ("from", "From"), ("to", "To"), ("call-id", "Call-ID"), ("cseq", "CSeq"))


@dataclass
class Message:
    """What requests and responses share: headers (as written), a body, lazily parsed common fields."""

    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    _via: Via | None = field(default=None, repr=False, compare=False)

    def start_line(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def __bytes__(self) -> bytes:
        lines = [self.start_line()]
        lines += [f"{name}: {value}" for name, value, _ in self.headers._items]
        lines.append("\r\n")
        return "\r\n".join(lines).encode("utf-8") + self.body

    @property
    def call_id(self) -> str:
        return self.headers.get("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        return parse_cseq(self.headers.get("CSeq") or "")

    @property
    def top_via(self) -> Via:
        """The first Via value, parsed (kept: the parser already checked it; ``forget_via`` after editing Vias)."""
        if self._via is None:
            value = self.headers.get("Via") or ""
            self._via = Via.parse(split_values(value)[0])
        return self._via

    def forget_via(self) -> None:
        self._via = None

    def transaction_key(self) -> tuple[str, str, int | None, str]:
        """RFC 3261 §17.2.3 server-transaction identity: top Via branch and sent-by, and the method."""
        via = self.top_via
        method = self.cseq[1] if isinstance(self, Response) else getattr(self, "method", "")
        return (via.branch or "", via.host, via.port, "INVITE" if method == "ACK" else method)

    @property
    def from_(self) -> NameAddr:
        return NameAddr.parse(self.headers.get("From") or "", "From")

    @property
    def to(self) -> NameAddr:
        return NameAddr.parse(self.headers.get("To") or "", "To")


@dataclass
class Request(Message):
    method: str = ""
    uri: str = ""

    def start_line(self) -> str:
        return f"{self.method} {self.uri} SIP/2.0"

    @classmethod
    def parse(cls, data: bytes) -> "Request":
        message = parse_message(data)
        if not isinstance(message, Request):
            raise SipSyntaxError("line 1: expected a request, got a response")
        return message


@dataclass
class Response(Message):
    status: int = 200
    reason: str = "OK"

    def start_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"

    @classmethod
    def parse(cls, data: bytes) -> "Response":
        message = parse_message(data)
        if not isinstance(message, Response):
            raise SipSyntaxError("line 1: expected a response, got a request")
        return message

    @classmethod
    def for_request(cls, request: Request, status: int, reason: str, to_tag: str | None = None) -> "Response":
        """A response echoing the request's Via, From, To (with ``to_tag`` added if it has none), Call-ID, CSeq."""
        headers = Headers()
        items = headers._items
        for item in request.headers._items:
            key = item[2]
            if key in _ECHOED:
                items.append(item)
            elif key == "to":
                value = item[1]
                if to_tag and ";tag=" not in value.replace(" ", "").lower():
                    item = (item[0], f"{value};tag={to_tag}", key)
                items.append(item)
        return cls(headers=headers, status=status, reason=reason)


def parse_message(data: bytes) -> Request | Response:
    """Parse one complete SIP message (a datagram, or one framed out of a stream)."""
    if len(data) > MAX_MESSAGE:
        raise SipSyntaxError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE}")
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise SipSyntaxError("no empty line (CRLF CRLF) after the headers")
    try:
        head = data[:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipSyntaxError(f"byte {exc.start} of the headers is not UTF-8") from None
    body = data[end + 4 :]
    lines = head.split("\r\n")
    if head.count("\n") + head.count("\r") != 2 * (len(lines) - 1):  # a bare CR or LF would end up in our answers
        for number, line in enumerate(lines, start=1):
            if "\r" in line or "\n" in line:
                raise SipSyntaxError(f"line {number}: bare CR or LF inside a line")
    first = lines[0]
    message: Request | Response
    if first.startswith("SIP/"):
        version, _, rest = first.partition(" ")
        code, _, reason = rest.partition(" ")
        if version != "SIP/2.0":
            raise SipSyntaxError(f"line 1: unsupported version {version!r}")
        if len(code) != 3 or not code.isdigit() or not 100 <= int(code) <= 699:
            raise SipSyntaxError(f"line 1: invalid status code {code!r}")
        message = Response(status=int(code), reason=reason)
    else:
        parts = first.split(" ")
        if len(parts) != 3:
            raise SipSyntaxError(f"line 1: request line {first!r} is not 'METHOD URI SIP/2.0'")
        method, uri, version = parts
        if not is_token(method):
            raise SipSyntaxError(f"line 1: invalid method {method!r}")
        if version != "SIP/2.0":
            raise SipSyntaxError(f"line 1: unsupported version {version!r}")
        scheme, colon, rest = uri.partition(":")
        if not colon or not scheme.isalpha() or not rest:
            raise SipSyntaxError(f"line 1: invalid Request-URI {uri!r}")
        message = Request(method=method, uri=uri)
    items: list[tuple[str, str, str]] = []
    seen: dict[str, int] = {}
    first: dict[str, str] = {}
    folded = False
    keys = _KEYS
    number = 1
    for line in lines[1:]:
        number += 1
        if not line:
            raise SipSyntaxError(f"line {number}: empty line inside the headers")
        if line[0] in " \t":  # folded continuation of the previous header (§7.3.1)
            if not items:
                raise SipSyntaxError(f"line {number}: continuation line before any header")
            name, value, key = items[-1]
            items[-1] = (name, f"{value} {line.strip()}", key)
            folded = True
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise SipSyntaxError(f"line {number}: header line has no ':'")
        key = keys.get(name)
        if key is None:  # an unusual spelling: check and key it the slow way
            name = name.rstrip(" \t")
            if not is_token(name):
                raise SipSyntaxError(f"line {number}: invalid header name {name!r}")
            key = canonical_key(name)
        value = value.strip()
        if key not in seen:
            seen[key] = number
            first[key] = value
        items.append((name, value, key))
    headers = Headers()
    headers._items = items
    if not folded:  # the index ``Headers.get`` would build, made on the way (a fold changes a value)
        headers._first = first
    message.headers = headers
    for key, label in _REQUIRED:
        if key not in seen:
            raise SipSyntaxError(f"missing mandatory header {label}")
    # CSeq must be well-formed and, in a request, name the request's method
    cseq_value = headers.get("CSeq") or ""
    try:
        _, cseq_method = parse_cseq(cseq_value)
    except SipSyntaxError as exc:
        raise SipSyntaxError(f"line {seen['cseq']}: {exc}") from None
    if isinstance(message, Request):
        if cseq_method != message.method:
            raise SipSyntaxError(
                f"line {seen['cseq']}: CSeq method {cseq_method} does not match request method {message.method}"
            )
        try:
            via = message.top_via
        except SipSyntaxError as exc:
            raise SipSyntaxError(f"line {seen['via']}: {exc}") from None
        if not via.branch:
            raise SipSyntaxError(f"line {seen['via']}: Via has no branch")
        max_forwards = headers.get("Max-Forwards")
        if max_forwards is not None and (not max_forwards.isdigit() or int(max_forwards) > 255):
            raise SipSyntaxError(f"line {seen['max-forwards']}: invalid Max-Forwards {max_forwards!r}")
    if not headers.get("Call-ID"):
        raise SipSyntaxError(f"line {seen['call-id']}: empty Call-ID")
    length_value = headers.get("Content-Length")
    if length_value is not None:
        if not length_value.isdigit():
            raise SipSyntaxError(f"line {seen['content-length']}: invalid Content-Length {length_value!r}")
        length = int(length_value)
        if length > len(body):
            raise SipSyntaxError(
                f"line {seen['content-length']}: Content-Length {length} exceeds the {len(body)} body bytes received"
            )
        if length < len(body):  # RFC 3261 §18.3: extra datagram bytes are discarded
            body = body[:length]
    message.body = body
    return message


def frame_length(buffer: bytes | bytearray) -> int | None:
    """Length of the first complete message in a stream buffer, or None if more bytes are needed.

    Streams (TCP) need Content-Length to find where a message ends (§18.3).
    Leading CRLF keep-alives are the caller's to skip.
    """
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_MESSAGE:
            raise SipSyntaxError(f"no end of headers within {MAX_MESSAGE} bytes")
        return None
    head = bytes(buffer[:end]).decode("utf-8", "replace")
    length: int | None = None
    for line in head.split("\r\n")[1:]:
        name, colon, value = line.partition(":")
        if colon and canonical_key(name.strip()) == "content-length":
            value = value.strip()
            if not value.isdigit():
                raise SipSyntaxError(f"invalid Content-Length {value!r}")
            length = int(value)
            break
    if length is None:
        raise SipSyntaxError("missing Content-Length on a stream transport")
    total = end + 4 + length
    if total > MAX_MESSAGE:
        raise SipSyntaxError(f"message of {total} bytes exceeds {MAX_MESSAGE}")
    return total if len(buffer) >= total else None


_SALVAGE = {"via", "from", "to", "call-id", "cseq"}


def salvage_reply_headers(data: bytes) -> Headers | None:
    """Via, From, To, Call-ID and CSeq lines of a malformed request, enough to answer it 400.

    None when the bytes are not a request or carry no Via (there is nowhere to answer).
    """
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    lines = head.split("\r\n")
    if not lines or lines[0].startswith("SIP/") or " " not in lines[0]:
        return None
    headers = Headers()
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon and canonical_key(name.strip()) in _SALVAGE:
            headers.add(name.strip(), value.strip())
    return headers if headers.get("Via") else None
