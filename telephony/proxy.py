"""The proxy's decisions (RFC 3261 §16): route requests between registered phones, responses back by Via.

INVITE is handled transaction-statefully (100 Trying at once, retransmissions
answered with the last response, CANCEL matched to it, non-2xx final
responses ACKed hop by hop, downstream retransmission over UDP and a timeout
answered 408); other requests and all responses to them are forwarded
statelessly, which RFC 3261 allows and which is enough for BYE and OPTIONS.
Initial requests are record-routed so that the dialog's BYE comes through us.
Pure: returns what to send where; the service owns the sockets.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import NamedTuple

from telephony.directory import Directory
from telephony.location import LocationTable
from telephony.sip.errors import SipSyntaxError
from telephony.sip.headers import Headers, NameAddr, Via
from telephony.sip.message import Request, Response
from telephony.sip.uri import SipUri

BRANCH_PREFIX = "z9hG4bKwn"
TIMER_B = 32.0
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER"


class Peer(NamedTuple):
    """Where a message came from or goes to (a tuple: one is made per datagram, and tuples are cheap)."""

    transport: str  # "udp" | "tcp"
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.transport}:{self.host}:{self.port}"


@dataclass
class Send:
    peer: Peer
    data: bytes


@dataclass
class InviteTransaction:
    upstream_branch: str
    upstream: Peer
    forwarded: Request
    target: Peer
    branch: str
    created: float
    last_response: bytes | None = None
    got_response: bool = False
    final: int = 0
    retransmits: int = 0


@dataclass
class ProxyStats:
    calls_attempted: int = 0
    calls_answered: int = 0
    forwarded: dict[str, int] = field(default_factory=dict)  # requests forwarded, per method


@dataclass
class Proxy:
    host: str
    port: int
    realm: str
    directory: Directory
    location: LocationTable
    stats: ProxyStats = field(default_factory=ProxyStats)
    invites: dict[str, InviteTransaction] = field(default_factory=dict)  # by upstream branch

    def __post_init__(self) -> None:
        self._by_branch: dict[str, InviteTransaction] = {}

    # ---- requests -------------------------------------------------------------------------------
    def on_request(self, request: Request, source: Peer, now: float) -> list[Send]:
        """What to send for a non-REGISTER request that arrived from ``source``."""
        try:
            return self._on_request(request, source, now)
        except SipSyntaxError as exc:
            if request.method == "ACK":
                return []
            return [Send(source, self._reply(request, 400, "Bad Request", warning=str(exc)))]

    def _on_request(self, request: Request, source: Peer, now: float) -> list[Send]:
        via = _stamp_via(request, source)
        upstream = Peer(via.transport.lower(), *via.reply_address())
        method = request.method
        upstream_branch = via.branch or ""
        if method == "CANCEL":
            return self._cancel(request, upstream, upstream_branch)
        txn = self.invites.get(upstream_branch)
        if txn is not None:
            if method == "INVITE" and txn.last_response:  # retransmission: repeat what we last said
                return [Send(upstream, txn.last_response)]
            if method == "ACK" and txn.final >= 300:  # hop-by-hop ACK of our non-2xx, already ACKed below
                return []
        max_forwards = request.headers.get("Max-Forwards")
        hops = int(max_forwards) if max_forwards is not None else 70
        if hops == 0:
            return [] if method == "ACK" else [Send(upstream, self._reply(request, 483, "Too Many Hops"))]
        headers = request.headers.copy()
        headers.set("Max-Forwards", str(hops - 1))
        routes = headers.get_all("Route")
        if routes and self._is_me(NameAddr.parse(routes[0], "Route").sip_uri("Route")):
            headers.pop_first_value("Route")
            routes = routes[1:]
        uri = request.uri
        request_uri = SipUri.parse(uri)
        to_tag = request.to.tag
        record_route = False
        if routes:
            target = self._resolve(NameAddr.parse(routes[0], "Route").sip_uri("Route"))
        elif to_tag or not self._is_local_domain(request_uri):
            if not to_tag:
                return [] if method == "ACK" else [Send(upstream, self._reply(request, 403, "Forbidden", warning="not relaying to other domains"))]
            target = self._resolve(request_uri)
        else:
            extension = request_uri.user
            if not extension:
                if method == "OPTIONS":
                    return [Send(upstream, self._reply(request, 200, "OK", allow=True))]
                return [] if method == "ACK" else [Send(upstream, self._reply(request, 404, "Not Found"))]
            phone = self.directory.get(extension)
            if phone is None or not phone.enabled:
                return [] if method == "ACK" else [Send(upstream, self._reply(request, 404, "Not Found"))]
            bindings = self.location.current(extension, now)
            if not bindings:
                return [] if method == "ACK" else [Send(upstream, self._reply(request, 480, "Temporarily Unavailable"))]
            binding = bindings[0]
            uri = binding.contact
            transport, host, port = binding.source_address()
            target = Peer(transport, host, port)
            record_route = method == "INVITE"
        branch = _branch(upstream_branch, method == "ACK")
        headers.insert_before("Via", f"SIP/2.0/{target.transport.upper()} {self.host}:{self.port};branch={branch}")
        if record_route:
            params = ";transport=tcp" if target.transport == "tcp" or source.transport == "tcp" else ""
            headers.insert_before("Record-Route", f"<sip:{self.host}:{self.port}{params};lr>")
        forwarded = Request(headers=headers, body=request.body, method=method, uri=uri)
        self.stats.forwarded[method] = self.stats.forwarded.get(method, 0) + 1
        out = [Send(target, bytes(forwarded))]
        if method == "INVITE" and not to_tag:
            self.stats.calls_attempted += 1
            txn = InviteTransaction(upstream_branch, upstream, forwarded, target, branch, now)
            trying = self._reply(request, 100, "Trying", tag=False)
            txn.last_response = trying
            self.invites[upstream_branch] = txn
            self._by_branch[branch] = txn
            out.insert(0, Send(upstream, trying))
        return out

    def _cancel(self, request: Request, upstream: Peer, upstream_branch: str) -> list[Send]:
        txn = self.invites.get(upstream_branch)
        if txn is None:
            return [Send(upstream, self._reply(request, 481, "Call/Transaction Does Not Exist"))]
        out = [Send(upstream, self._reply(request, 200, "OK"))]
        if txn.final == 0:
            out.append(Send(txn.target, bytes(self._hop_request(txn, "CANCEL", txn.forwarded.headers.get("To") or ""))))
        return out

    def _hop_request(self, txn: InviteTransaction, method: str, to_value: str) -> Request:
        """A CANCEL or ACK that this proxy itself sends down the INVITE's branch (§9.1, §17.1.1.3)."""
        fwd = txn.forwarded
        headers = Headers()
        headers.add("Via", f"SIP/2.0/{txn.target.transport.upper()} {self.host}:{self.port};branch={txn.branch}")
        headers.add("Max-Forwards", "70")
        headers.add("From", fwd.headers.get("From") or "")
        headers.add("To", to_value)
        headers.add("Call-ID", fwd.call_id)
        headers.add("CSeq", f"{fwd.cseq[0]} {method}")
        for route in fwd.headers.get_lines("Route"):
            headers.add("Route", route)
        headers.add("Content-Length", "0")
        return Request(headers=headers, method=method, uri=fwd.uri)

    # ---- responses ------------------------------------------------------------------------------
    def on_response(self, response: Response, source: Peer, now: float) -> list[Send]:
        """Forward a response up its Via path (our Via removed), ACKing non-2xx finals to our INVITEs."""
        try:
            top = response.top_via
        except SipSyntaxError:
            return []
        branch = top.branch or ""
        if not branch.startswith(BRANCH_PREFIX) or top.host != self.host or (top.port or 5060) != self.port:
            return []  # not sent by us: drop (§16.7 step 1)
        headers = response.headers.copy()
        headers.pop_first_value("Via")
        if "via" not in headers:
            return []  # a response to a request we originated (CANCEL, ACK): absorbed
        _, method = response.cseq
        if method == "CANCEL":
            return []  # we answered the upstream CANCEL ourselves
        forwarded = Response(headers=headers, body=response.body, status=response.status, reason=response.reason)
        next_via = forwarded.top_via
        upstream = Peer(next_via.transport.lower(), *next_via.reply_address())
        out: list[Send] = []
        if method == "INVITE":
            txn = self._by_branch.get(branch)
            if txn is not None:
                txn.got_response = True
                status = response.status
                if status == 100:
                    return []  # hop by hop: we sent our own
                if status >= 300:
                    ack = self._hop_request(txn, "ACK", response.headers.get("To") or "")
                    out.append(Send(txn.target, bytes(ack)))
                    if txn.final >= 300:
                        return out  # retransmitted final: ACK again, do not forward twice
                if 200 <= status < 300 and txn.final == 0:
                    self.stats.calls_answered += 1
                if status >= 200 and txn.final == 0:
                    txn.final = status
                data = bytes(forwarded)
                if status < 300:
                    txn.last_response = data if status < 200 else None
                else:
                    txn.last_response = data
                out.append(Send(upstream, data))
                return out
        out.append(Send(upstream, bytes(forwarded)))
        return out

    # ---- timers ---------------------------------------------------------------------------------
    def tick(self, now: float) -> list[Send]:
        """Retransmit unanswered INVITEs over UDP, time out silent ones (408), forget old transactions."""
        out: list[Send] = []
        for key, txn in list(self.invites.items()):
            age = now - txn.created
            if not txn.got_response and txn.final == 0:
                if age >= TIMER_B:
                    txn.final = 408
                    timeout = Response.for_request(txn.forwarded, 408, "Request Timeout", to_tag="wn408")
                    timeout.headers.pop_first_value("Via")
                    timeout.headers.add("Content-Length", "0")
                    txn.last_response = bytes(timeout)
                    out.append(Send(txn.upstream, txn.last_response))
                elif txn.target.transport == "udp" and age >= 0.5 * (2 ** txn.retransmits) and txn.retransmits < 6:
                    txn.retransmits += 1
                    out.append(Send(txn.target, bytes(txn.forwarded)))
            if age > 2 * TIMER_B + 8:
                del self.invites[key]
                self._by_branch.pop(txn.branch, None)
        return out

    # ---- helpers --------------------------------------------------------------------------------
    def _reply(self, request: Request, status: int, reason: str, warning: str | None = None,
               allow: bool = False, tag: bool = True) -> bytes:
        response = Response.for_request(request, status, reason, to_tag=_tag(request) if tag else None)
        if warning:
            response.headers.add("Warning", f'399 wangnet "{warning}"')
        if allow:
            response.headers.add("Allow", ALLOW)
        response.headers.add("Content-Length", "0")
        return bytes(response)

    def _is_me(self, uri: SipUri) -> bool:
        return uri.host == self.host and (uri.port or 5060) == self.port

    def _is_local_domain(self, uri: SipUri) -> bool:
        return uri.host == self.realm or self._is_me(uri)

    def _resolve(self, uri: SipUri) -> Peer:
        """Where a URI is reached: the registering connection of a bound contact, else its host and port."""
        text = str(uri)
        records = self.location.bindings.get(uri.user) if uri.user else None
        if records:
            for record in records.values():
                if record.contact == text:
                    transport, host, port = record.source_address()
                    return Peer(transport, host, port)
        return Peer(uri.transport, uri.host.strip("[]"), uri.port or 5060)


def _stamp_via(request: Request, source: Peer) -> Via:
    """Add ``received``/``rport`` to the top Via (§18.2.1, RFC 3581) so responses find their way back."""
    headers = request.headers
    top = headers.pop_first_value("Via") or ""
    via = Via.parse(top)
    if via.host != source.host or source.transport == "tcp":
        via.params["received"] = source.host
    if "rport" in via.params or source.transport == "tcp":
        via.params["rport"] = str(source.port)
    headers.insert_before("Via", str(via))
    request.forget_via()
    return via


def _branch(upstream_branch: str, ack: bool) -> str:
    """Our branch for a forwarded request: a function of the upstream one, so a CANCEL finds its INVITE's."""
    seed = f"{upstream_branch}|{'ack' if ack else ''}".encode()
    return BRANCH_PREFIX + hashlib.blake2b(seed, digest_size=10).hexdigest()


def _tag(request: Request) -> str:
    return hashlib.blake2b(f"{request.call_id}|{request.headers.get('CSeq')}".encode(), digest_size=4).hexdigest()
