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
        try:
            return self._handle(request, source, now)
        except SipSyntaxError as exc:
            return self._reply(request, 400, "Bad Request", warning=str(exc))

    def _handle(self, request: Request, source: str, now: float) -> Response:
        host = _source_host(source)
        if self.throttle.blocked(host, now):
            response = self._reply(request, 403, "Forbidden", warning="too many failed authentication attempts", length=False)
            response.headers.add("Retry-After", str(self.throttle.retry_after(host, now)))
            response.headers.add("Content-Length", "0")
            return response
        to = request.to
        extension = _user_of(to.uri)
        if not extension:
            return self._reply(request, 400, "Bad Request", warning="To URI has no user part")
        auth_value = request.headers.get("Authorization")
        if auth_value is None:
            return self._challenge(request, now)
        scheme, params = parse_auth_params(auth_value)
        if scheme.lower() != "digest":
            return self._challenge(request, now)
        try:
            creds = Credentials.from_params(params)
        except ValueError as exc:
            return self._reply(request, 400, "Bad Request", warning=str(exc))
        if creds.realm != self.realm:
            return self._challenge(request, now)
        if creds.algorithm not in self.algorithms:
            return self._challenge(request, now)
        nonce_state = self.signer.check(self.realm, creds.nonce, now)
        if nonce_state == "invalid":
            return self._challenge(request, now)
        phone = self.directory.get(creds.username)
        if creds.username != extension or phone is None or not phone.enabled:
            return self._failure(request, host, extension if phone is None else phone.extension, now, phone)
        if not creds.verify(phone.ha1(creds.algorithm), request.method):
            return self._failure(request, host, phone.extension, now, phone)
        if nonce_state == "stale":  # right password, old nonce: retry at once with a fresh one
            return self._challenge(request, now, stale=True)
        self.throttle.succeed(host)
        return self._register(request, phone, source, now)

    def _register(self, request: Request, phone: PhoneCredentials, source: str, now: float) -> Response:
        headers = request.headers
        contacts = headers.get_all("Contact")
        expires_header = headers.get("Expires")
        default = self.default_expires
        if expires_header is not None:
            if not expires_header.isdigit():
                return self._reply(request, 400, "Bad Request", warning=f"invalid Expires {expires_header!r}")
            default = int(expires_header)
        extension = phone.extension
        call_id = request.call_id
        cseq, _ = request.cseq
        user_agent = (headers.get("User-Agent") or "")[:256]
        if contacts:
            if "*" in contacts:
                if len(contacts) != 1 or expires_header != "0":
                    return self._reply(request, 400, "Bad Request", warning="Contact: * needs Expires: 0 and no other contact")
                for record in self.location.current(extension, now):
                    if record.call_id == call_id and cseq <= record.cseq:
                        return self._reply(request, 500, "Server Internal Error", warning="CSeq out of order")
                self.location.clear(extension)
            else:
                changes: list[tuple[str, int]] = []
                for value in contacts:
                    addr = NameAddr.parse(value, "Contact")
                    expires_param = addr.params.get("expires")
                    if expires_param is not None:
                        if not expires_param.isdigit():
                            return self._reply(request, 400, "Bad Request", warning=f"invalid Contact expires {expires_param!r}")
                        expires = int(expires_param)
                    else:
                        expires = default
                    if 0 < expires < self.min_expires:
                        response = self._reply(request, 423, "Interval Too Brief", length=False)
                        response.headers.add("Min-Expires", str(self.min_expires))
                        response.headers.add("Content-Length", "0")
                        return response
                    uri = addr.uri
                    existing = self.location.get(extension, uri)
                    if existing is not None and existing.call_id == call_id and cseq <= existing.cseq:
                        return self._reply(request, 500, "Server Internal Error", warning="CSeq out of order")
                    changes.append((uri, min(expires, self.max_expires)))
                for uri, expires in changes:
                    if expires == 0:
                        self.location.remove(extension, uri)
                        continue
                    existing = self.location.get(extension, uri)
                    self.location.put(extension, BindingRecord(
                        uri, now + expires, call_id, cseq, user_agent, source,
                        existing.registered_at if existing else now, now,
                    ))
            self.location.registered(extension, now, user_agent)
            self.stats.registrations += 1
        response = self._reply(request, 200, "OK", length=False)
        for record in self.location.current(extension, now):
            response.headers.add("Contact", f"<{record.contact}>;expires={max(0, int(record.expires_at - now))}")
        response.headers.add("Content-Length", "0")
        return response

    def _failure(self, request: Request, host: str, extension: str, now: float, phone: PhoneCredentials | None) -> Response:
        self.stats.auth_failures += 1
        if phone is not None:
            self.location.failed(phone.extension, now)
        if self.throttle.fail(host, now):
            log.warning("SIP auth: %s blocked for %.0f s after %d failed attempts (last for extension %r)",
                        host, self.throttle.block, self.throttle.limit, extension)
            response = self._reply(request, 403, "Forbidden", warning="too many failed authentication attempts", length=False)
            response.headers.add("Retry-After", str(self.throttle.retry_after(host, now)))
            response.headers.add("Content-Length", "0")
            return response
        log.info("SIP auth: failed REGISTER for extension %r from %s", extension, host)
        return self._challenge(request, now)

    def _challenge(self, request: Request, now: float, stale: bool = False) -> Response:
        self.stats.challenges += 1
        response = self._reply(request, 401, "Unauthorized", length=False)
        nonce = self.signer.make(self.realm, now)
        for algorithm in self.algorithms:
            response.headers.add("WWW-Authenticate", challenge(self.realm, nonce, algorithm, stale))
        response.headers.add("Content-Length", "0")
        return response

    def _reply(self, request: Request, status: int, reason: str, warning: str | None = None,
               length: bool = True) -> Response:
        response = Response.for_request(request, status, reason, to_tag=f"{self._tag_prefix}{next(self._tags):x}")
        if warning:
            response.headers.add("Warning", f'399 wangnet "{warning}"')
        if length:
            response.headers.add("Content-Length", "0")
        return response


def _user_of(uri: str) -> str:
    """The user part of a sip: URI without parsing all of it (the hot path needs only this)."""
    _, colon, rest = uri.partition(":")
    if not colon:
        raise SipSyntaxError(f"To {uri!r} is not a URI")
    user, at, _ = rest.partition("@")
    return user.partition(";")[0] if at else ""


def _source_host(source: str) -> str:
    return source.partition(":")[2].rpartition(":")[0]

