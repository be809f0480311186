"""The registrar's decisions (RFC 3261 §10.3): a REGISTER in, a response out, the location table updated.

No sockets, no database, no clock of its own (``now`` is passed in): the
service feeds it parsed requests and sends what it returns.
"""
from __future__ import annotations

import itertools
import logging
import os
from dataclasses import dataclass, field

from telephony.digest import Credentials, NonceSigner, challenge
from telephony.directory import Directory, PhoneCredentials
from telephony.location import BindingRecord, LocationTable
from telephony.sip.errors import SipSyntaxError
from telephony.sip.headers import NameAddr, parse_auth_params
from telephony.sip.message import Request, Response
from telephony.sip.view import RegisterView
from telephony.throttle import FailureThrottle

log = logging.getLogger(__name__)


@dataclass
class RegistrarStats:
    """Counts the service turns into Prometheus metrics."""

    registrations: int = 0
    auth_failures: int = 0
    challenges: int = 0


@dataclass
class Registrar:
    realm: str
    directory: Directory
    location: LocationTable
    signer: NonceSigner = field(default_factory=NonceSigner)
    algorithms: tuple[str, ...] = ("SHA-256", "MD5")
    min_expires: int = 60
    max_expires: int = 7200
    default_expires: int = 3600
    throttle: FailureThrottle = field(default_factory=FailureThrottle)
    stats: RegistrarStats = field(default_factory=RegistrarStats)

    def __post_init__(self) -> None:
        self._tag_prefix = os.urandom(3).hex()
        self._tags = itertools.count(1)

    def handle(self, request: Request, source: str, now: float) -> Response:
        """Decide the response to one REGISTER from ``source`` ("udp:127.0.0.1:5062") at epoch ``now``."""
        status, reason, extra = self.decide(request, source, now)
        response = Response.for_request(request, status, reason, to_tag=self._next_tag())
        for name, value in extra:
            response.headers.add(name, value)
        return response

    def handle_view(self, view: RegisterView, source: str, now: float) -> bytes:
        """``handle`` for the fast path: the same decision on a ``RegisterView``, answered as bytes."""
        status, reason, extra = self.decide(view, source, now)
        return view.render(status, reason, self._next_tag(), extra)

    def _next_tag(self) -> str:
        return f"{self._tag_prefix}{next(self._tags):x}"

    def decide(self, request: Request | RegisterView, source: str, now: float) -> Reply:
        """(status, reason, headers to add after the echoed Via/From/To/Call-ID/CSeq), bindings updated."""
        try:
            return self._handle(request, source, now)
        except SipSyntaxError as exc:
            return _reply(400, "Bad Request", warning=str(exc))

    def _handle(self, request: Request | RegisterView, source: str, now: float) -> Reply:
        host = _source_host(source)
        throttle = self.throttle
        if throttle._blocked_until and throttle.blocked(host, now):
            return self._blocked(host, now)
        extension = _user_of(request.to.uri)
        if not extension:
            return _reply(400, "Bad Request", warning="To URI has no user part")
        headers = request.headers
        auth_value = headers.get("Authorization")
        if auth_value is None:
            return self._challenge(now)
        scheme, params = parse_auth_params(auth_value)
        if scheme.lower() != "digest":
            return self._challenge(now)
        try:
            creds = Credentials.from_params(params)
        except ValueError as exc:
            return _reply(400, "Bad Request", warning=str(exc))
        if creds.realm != self.realm:
            return self._challenge(now)
        if creds.algorithm not in self.algorithms:
            return self._challenge(now)
        nonce_state = self.signer.check(self.realm, creds.nonce, now)
        if nonce_state == "invalid":
            return self._challenge(now)
        phone = self.directory.get(creds.username)
        if creds.username != extension or phone is None or not phone.enabled:
            return self._failure(host, extension if phone is None else phone.extension, now, phone)
        if not creds.verify(phone.ha1(creds.algorithm), request.method):
            return self._failure(host, phone.extension, now, phone)
        if nonce_state == "stale":  # right password, old nonce: retry at once with a fresh one
            return self._challenge(now, stale=True)
        if throttle._failures:
            throttle.succeed(host)
        return self._register(request, phone, source, now)

    def _register(self, request: Request | RegisterView, phone: PhoneCredentials, source: str, now: float) -> Reply:
        headers = request.headers
        contacts = headers.get_all("Contact")
        expires_header = headers.get("Expires")
        default = self.default_expires
        if expires_header is not None:
            if not expires_header.isdigit():
                return _reply(400, "Bad Request", warning=f"invalid Expires {expires_header!r}")
            default = int(expires_header)
        extension = phone.extension
        call_id = request.call_id
        cseq, _ = request.cseq
        location = self.location
        if contacts:
            user_agent = (headers.get("User-Agent") or "")[:256]
            if "*" in contacts:
                if len(contacts) != 1 or expires_header != "0":
                    return _reply(400, "Bad Request", warning="Contact: * needs Expires: 0 and no other contact")
                for record in location.current(extension, now):
                    if record.call_id == call_id and cseq <= record.cseq:
                        return _reply(500, "Server Internal Error", warning="CSeq out of order")
                location.clear(extension)
            else:
                changes: list[tuple[str, int, BindingRecord | None]] = []
                for value in contacts:
                    uri, expires_param = _contact(value)
                    if expires_param is not None:
                        if not expires_param.isdigit():
                            return _reply(400, "Bad Request", warning=f"invalid Contact expires {expires_param!r}")
                        expires = int(expires_param)
                    else:
                        expires = default
                    if 0 < expires < self.min_expires:
                        return 423, "Interval Too Brief", [("Min-Expires", str(self.min_expires)), _NO_BODY]
                    existing = location.get(extension, uri)
                    if existing is not None and existing.call_id == call_id and cseq <= existing.cseq:
                        return _reply(500, "Server Internal Error", warning="CSeq out of order")
                    changes.append((uri, min(expires, self.max_expires), existing))
                for uri, expires, existing in changes:
                    if expires == 0:
                        location.remove(extension, uri)
                        continue
                    if len(changes) > 1:  # an earlier change of this request may have touched the same contact
                        existing = location.get(extension, uri)
                    location.put(extension, BindingRecord(
                        uri, now + expires, call_id, cseq, user_agent, source,
                        existing.registered_at if existing else now, now,
                    ))
            location.registered(extension, now, user_agent)
            self.stats.registrations += 1
        extra = [("Contact", f"<{record.contact}>;expires={max(0, int(record.expires_at - now))}")
                 for record in location.current(extension, now)]
        extra.append(_NO_BODY)
        return 200, "OK", extra

    def _blocked(self, host: str, now: float) -> Reply:
        return 403, "Forbidden", [("Warning", _THROTTLED), ("Retry-After", str(self.throttle.retry_after(host, now))), _NO_BODY]

    def _failure(self, host: str, extension: str, now: float, phone: PhoneCredentials | None) -> Reply:
        self.stats.auth_failures += 1
        if phone is not None:
            self.location.failed(phone.extension, now)
        if self.throttle.fail(host, now):
            log.warning("SIP auth: %s blocked for %.0f s after %d failed attempts (last for extension %r)",
                        host, self.throttle.block, self.throttle.limit, extension)
            return self._blocked(host, now)
        log.info("SIP auth: failed REGISTER for extension %r from %s", extension, host)
        return self._challenge(now)

    def _challenge(self, now: float, stale: bool = False) -> Reply:
        self.stats.challenges += 1
        nonce = self.signer.make(self.realm, now)
        extra = [("WWW-Authenticate", challenge(self.realm, nonce, algorithm, stale)) for algorithm in self.algorithms]
        extra.append(_NO_BODY)
        return 401, "Unauthorized", extra


#: a decision: status, reason, and the header lines that follow the echoed ones
Reply = tuple[int, str, list[tuple[str, str]]]
_NO_BODY = ("Content-Length", "0")
_THROTTLED = '399 wangnet "too many failed authentication attempts"'


def _reply(status: int, reason: str, warning: str | None = None) -> Reply:
    if warning:
        return status, reason, [("Warning", f'399 wangnet "{warning}"'), _NO_BODY]
    return status, reason, [_NO_BODY]


def _contact(value: str) -> tuple[str, str | None]:
    """(URI, its ``expires`` parameter) of one Contact value — ``NameAddr.parse`` unless it is a plain ``<uri>``."""
    if value[:1] == "<" and value[-1:] == ">" and value.count("<") == 1 and value.count(">") == 1 and '"' not in value:
        uri = value[1:-1].strip()
        if uri:
            return uri, None
    addr = NameAddr.parse(value, "Contact")
    return addr.uri, addr.params.get("expires")


def _user_of(uri: str) -> str:
    """The user part of a sip: URI without parsing all of it (the hot path needs only this)."""
    _, colon, rest = uri.partition(":")
    if not colon:
        raise SipSyntaxError(f"To {uri!r} is not a URI")
    user, at, _ = rest.partition("@")
    return user.partition(";")[0] if at else ""


def _source_host(source: str) -> str:
    return source.partition(":")[2].rpartition(":")[0]

