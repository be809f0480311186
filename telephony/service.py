"""The SIP service: UDP and TCP sockets on one port, feeding the registrar and the proxy.

The hot path for UDP is: read a batch of datagrams with their kernel receive
timestamps (from how long the last one waited, the admission gate decides
which share of new REGISTERs the kernel lets in at all: admission.py); answer
a retransmission from the transaction cache before any parsing; drop,
unparsed, a datagram that waited in the socket queue longer than
``max_queue_age`` (its sender has retransmitted it already, so working
on it would only feed the backlog); once datagrams wait longer than
``busy_queue_age``, answer *new* registrations (REGISTER without
Authorization) 503 with Retry-After so that the capacity goes to finishing
the registrations already challenged — half-done work is what makes a
registrar collapse; parse; decide; send. The database
is touched only by background tasks in worker threads: credentials refreshed,
changed bindings written behind, both loaded at start.
"""
from __future__ import annotations

import asyncio
import fcntl
import logging
import socket
import struct
import sys
import termios
import time

from telephony import persistence, workers
from telephony.admission import Gate
from telephony.digest import NonceSigner
from telephony.directory import Directory
from telephony.kernel_gate import KernelGate
from telephony.location import LocationTable
from telephony.metrics import SipMetrics
from telephony.proxy import Peer, Proxy, Send
from telephony.registrar import Registrar
from telephony.sip.errors import SipSyntaxError
from telephony.sip.message import Request, Response, frame_length, parse_message, salvage_reply_headers
from telephony.sip.view import RegisterView, scan_register
from telephony.transactions import ResponseCache
from wangnet.config import Settings
from wangnet.store import Store

log = logging.getLogger(__name__)
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("qq")
BATCH = 256
_BUSY = [("Retry-After", "5"), ("Content-Length", "0")]
SYNC_DELAY = 0.005  # a secondary sends binding changes to the primary at most this late


class SipService:
    """Registrar + proxy over UDP and TCP; implements ``wangnet.runtime.Service``."""

    name = "sip"

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        host: str | None = None,
        port: int | None = None,
        algorithms: tuple[str, ...] | None = None,
        min_expires: int = 60,
        max_queue_age: float = 0.3,
        busy_queue_age: float = 0.2,
        max_auth_queue_age: float = 2.0,
        admission_gate: bool | None = None,
        flush_interval: float = 1.0,
        refresh_interval: float = 5.0,
        throttle_limit: int = 5,
        reuse_port: bool = False,
        link: socket.socket | None = None,
        worker: int = 0,
        nonce_key: bytes | None = None,
    ) -> None:
        """``reuse_port``/``link``/``worker``: one of several worker processes on one port (see ``workers``);
        worker 0 is the primary (proxy, TCP, store, metrics), the others handle REGISTERs only. Workers share
        ``nonce_key``, so a nonce issued by one verifies in another (the kernel re-spreads sources whenever
        a worker joins or leaves)."""
        self.settings = settings
        self.store = store
        self.host = host or settings.sip_host
        self.requested_port = settings.sip_port if port is None else port
        self.max_queue_age = max_queue_age
        self.busy_queue_age = busy_queue_age
        self.max_auth_queue_age = max(max_auth_queue_age, max_queue_age)
        # new REGISTERs thinned out in the kernel while a backlog drains (admission.py); off: the service's policy only
        self.admission_gate = settings.sip_admission_gate if admission_gate is None else admission_gate
        self.gate = Gate()
        self._kernel_gate: KernelGate | None = None
        self._gate_timer: asyncio.TimerHandle | None = None
        self._gate_waited = 0.0
        self._kernel_drops_at_start = 0
        self.kernel_drops = 0
        self.flush_interval = flush_interval
        self.refresh_interval = refresh_interval
        self.directory = Directory()
        self.location = LocationTable()
        self.registrar = Registrar(
            settings.sip_realm, self.directory, self.location, NonceSigner(key=nonce_key),
            algorithms=algorithms or tuple(a.strip() for a in settings.sip_digest_algorithms.split(",")),
            min_expires=min_expires,
        )
        self.registrar.throttle.limit = throttle_limit
        self.proxy: Proxy | None = None
        self.cache = ResponseCache()
        self.metrics = SipMetrics()
        self.port = 0
        self.retransmissions = 0
        self.shed = 0
        self.rejected_busy = 0
        self.malformed = 0
        self._udp: socket.socket | None = None
        self._tcp_server: asyncio.AbstractServer | None = None
        self._tcp: dict[tuple[str, int], "_TcpConnection"] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_malformed_log = 0.0
        self._flush_lock = asyncio.Lock()
        self.reuse_port = reuse_port
        self.link = link
        self.worker = worker
        self.secondary = link is not None and worker > 0
        self._worker_stats: dict[int, dict[str, int]] = {}  # the secondaries' counters, on the primary
        self._sync_handle: asyncio.TimerHandle | None = None

    # ---- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self.directory.replace(await asyncio.to_thread(persistence.load_credentials, self.store))
        self.location.bindings = await asyncio.to_thread(persistence.load_bindings, self.store, time.time())
        await self._bind(loop)
        self.proxy = Proxy(self.host, self.port, self.settings.sip_realm, self.directory, self.location)
        assert self._udp is not None
        if self.admission_gate:
            self._kernel_gate = KernelGate(self._udp)
            self._kernel_drops_at_start = self._kernel_gate.kernel_drops() or 0
        loop.add_reader(self._udp.fileno(), self._on_udp_readable)
        if self.link is not None:
            self.link.setblocking(False)  # a full link drops like a lost datagram; the event loop never waits
            if not self.secondary:
                loop.add_reader(self.link.fileno(), self._on_link_readable)
        self._tasks = [loop.create_task(self._housekeeping(), name="sip-housekeeping")]
        log.info("SIP %s on %s %s:%d realm %s (%d phones, %d bindings restored)",
                 f"worker {self.worker} (REGISTER)" if self.secondary else "registrar/proxy",
                 "udp" if self.secondary else "udp+tcp", self.host, self.port, self.settings.sip_realm,
                 len(self.directory), self.location.count())

    async def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        last_error: OSError | None = None
        for _ in range(20):  # port 0: UDP picks, TCP must get the same number
            udp = socket.socket(family, socket.SOCK_DGRAM)
            try:
                udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                udp.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                if self.reuse_port:  # the kernel spreads datagrams over the workers by source address
                    udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                udp.bind((self.host, self.requested_port))
                udp.setblocking(False)
                port = udp.getsockname()[1]
                if not self.secondary:  # TCP (connection state, proxy) stays with the primary
                    self._tcp_server = await loop.create_server(
                        lambda: _TcpConnection(self), self.host, port, reuse_address=True
                    )
            except OSError as exc:
                udp.close()
                last_error = exc
                if self.requested_port:
                    raise
                continue
            self._udp, self.port = udp, port
            return
        raise OSError(f"no port free for both UDP and TCP on {self.host}: {last_error}")

    async def stop(self) -> None:
        if not self.secondary:
            log.info("SIP stopping: %d registrations, %d challenges, %d answered from the cache; overload: %d answered "
                     "503, %d shed by the service, %d dropped by the kernel, gate shut out new REGISTERs %d times",
                     self.registrar.stats.registrations, self.registrar.stats.challenges, self.retransmissions,
                     self.rejected_busy, self.shed, self.kernel_drops, self.gate.closings)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks = []
        if self.link is not None and not self.secondary and self._loop is not None:
            self._loop.remove_reader(self.link.fileno())
        if self._gate_timer is not None:
            self._gate_timer.cancel()
            self._gate_timer = None
        if self._kernel_gate is not None:
            self._kernel_gate.admit(1.0)
            self._kernel_gate = None
        if self._udp is not None and self._loop is not None:
            self._loop.remove_reader(self._udp.fileno())
            self._udp.close()
            self._udp = None
        if self._tcp_server is not None:
            self._tcp_server.close()
            for conn in list(self._tcp.values()):
                conn.close()
            await self._tcp_server.wait_closed()
            self._tcp_server = None
        await self._flush()

    # ---- UDP hot path ---------------------------------------------------------------------------
    def _on_udp_readable(self) -> None:
        sock = self._udp
        if sock is None:
            return
        recvmsg = sock.recvmsg
        now = time.time()
        limit = now - self.max_queue_age
        auth_limit = now - self.max_auth_queue_age
        busy_limit = now - self.busy_queue_age
        cache = self.cache
        secondary = self.secondary
        stamp = now
        drained = False
        for _ in range(BATCH):
            try:
                data, ancdata, _, addr = recvmsg(65535, 64)
            except (BlockingIOError, InterruptedError):
                drained = True
                break
            except OSError:  # e.g. ICMP port unreachable reported on the socket
                continue
            cached = cache.get(data, now)
            if cached is not None:
                self.retransmissions += 1
                try:
                    sock.sendto(cached, addr)
                except OSError:  # send buffer full under overload: like a lost datagram, it is retransmitted
                    pass
                continue
            if ancdata:
                sec, nsec = _TIMESPEC.unpack_from(ancdata[0][2])
                stamp = sec + nsec * 1e-9
                if stamp < busy_limit:
                    if data[:9] != b"REGISTER ":
                        if stamp < limit:
                            self.shed += 1
                            continue
                    elif _has_authorization(data):  # finishes a registration: worth doing while its phone waits
                        if stamp < auth_limit:
                            self.shed += 1
                            continue
                    elif stamp < limit:
                        self.shed += 1
                        continue
                    else:
                        self._reject_busy(data, addr, now)
                        continue
            if data[:9] == b"REGISTER ":
                view = scan_register(data)
                if view is not None:  # the fast path (see _on_message)
                    self._register_view(view, data, Peer("udp", addr[0], addr[1]), now)
                    continue
            elif secondary:
                self._link_send(workers.forward(data, addr, now))
                continue
            self._on_message(data, Peer("udp", addr[0], addr[1]), now, addr)
        if self._kernel_gate is not None:
            self._gate_waited = waited = now - stamp  # how long the last datagram read sat in the queue
            share = self.gate.observe(waited, drained, time.monotonic())  # a wall clock step must not stall it
            if share is not None:
                self._set_gate(share)
        if secondary and self._sync_handle is None and (self.location.dirty or self.location.activity):
            # a few ms later, so that one link datagram carries many registrations under load
            self._sync_handle = self._loop.call_later(SYNC_DELAY, self._sync)  # type: ignore[union-attr]

    # ---- admission gate (admission.py) ----------------------------------------------------------
    def _set_gate(self, share: float) -> None:
        kernel = self._kernel_gate
        if kernel is None:
            return
        if not kernel.admit(share):  # refused: the service's own policy goes on alone
            self._kernel_gate = None
            return
        self._arm_gate_timer()

    def _arm_gate_timer(self) -> None:
        if self.gate.shedding and self._gate_timer is None and self._loop is not None:
            self._gate_timer = self._loop.call_later(self.gate.interval, self._recheck_gate)

    def _recheck_gate(self) -> None:
        """While shedding, fewer datagrams wake the reader (none, when only new REGISTERs come): a timer asks
        the gate again, so that the share grows back once the backlog is gone."""
        self._gate_timer = None
        if self._kernel_gate is None or self._udp is None or not self.gate.shedding:
            return
        try:
            pending = int.from_bytes(fcntl.ioctl(self._udp.fileno(), termios.FIONREAD, b"\0\0\0\0"), sys.byteorder)
        except OSError:
            pending = 1
        share = self.gate.observe(0.0 if pending == 0 else self._gate_waited, pending == 0, time.monotonic())
        if share is not None:
            self._set_gate(share)
        else:
            self._arm_gate_timer()

    # ---- several workers ------------------------------------------------------------------------
    def _link_send(self, datagram: bytes) -> bool:
        try:
            self.link.send(datagram)  # type: ignore[union-attr]
            return True
        except OSError as exc:  # the primary is behind (buffer full) or gone: like a lost datagram
            log.debug("SIP worker %d: link to the primary: %s", self.worker, exc)
            return False

    def _sync(self) -> None:
        """Secondary: send the primary the bindings and activity of the phones changed since the last sync."""
        if self._sync_handle is not None:
            self._sync_handle.cancel()
            self._sync_handle = None
        changed, activity = self.location.take_dirty()
        for index, datagram in enumerate(workers.bindings(changed, activity)):
            if not self._link_send(datagram):  # keep what did not go for the next sync
                sent = sorted(set(changed) | set(activity))[: index * workers.CHUNK]
                self.location.dirty.update(e for e in changed if e not in sent)
                for extension, act in activity.items():
                    if extension not in sent:
                        workers.merge_activity(self.location.activity, extension, act)
                return

    def _on_link_readable(self) -> None:
        """Primary: datagrams forwarded by the secondaries, their binding changes and counters."""
        link = self.link
        if link is None:
            return
        cache = self.cache
        for _ in range(BATCH):
            try:
                message = workers.decode(link.recv(1 << 17))
            except (BlockingIOError, InterruptedError):
                return
            except Exception as exc:  # a sibling's garbage must not stop the primary
                log.warning("SIP: unreadable message from a worker: %s", exc)
                continue
            kind = message[0]
            if kind == workers.FORWARD:
                _, data, addr, now = message
                cached = cache.get(data, now)
                if cached is not None:
                    self.retransmissions += 1
                    if self._udp is not None:
                        self._udp.sendto(cached, addr)
                    continue
                self._on_message(data, Peer("udp", addr[0], addr[1]), now, addr)
            elif kind == workers.BINDINGS:
                _, changed, activity = message
                location = self.location
                for extension, records in changed.items():
                    if records:
                        location.bindings[extension] = {r.contact: r for r in records}
                    else:
                        location.bindings.pop(extension, None)
                    location.dirty.add(extension)
                for extension, act in activity.items():
                    workers.merge_activity(location.activity, extension, act)
                    location.dirty.add(extension)
            elif kind == workers.STATS:
                self._worker_stats[message[1]] = message[2]

    def _totals(self) -> dict[str, int]:
        stats = self.registrar.stats
        totals = {
            "registrations": stats.registrations, "auth_failures": stats.auth_failures, "challenges": stats.challenges,
            "retransmissions": self.retransmissions, "shed": self.shed, "rejected_busy": self.rejected_busy,
            "malformed": self.malformed, "gate_closings": self.gate.closings, "gate_dropped": self.kernel_drops,
        }
        for theirs in self._worker_stats.values():
            for name, value in theirs.items():
                totals[name] = totals.get(name, 0) + value
        return totals

    def _reject_busy(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        """503 + Retry-After for a new registration while a backlog builds: finishing the registrations
        already challenged is worth more than starting new ones (half-done work is what collapses)."""
        self.rejected_busy += 1
        view = scan_register(data)
        if view is not None and self._udp is not None:  # the same answer as below, without objects
            out = view.render(503, "Service Unavailable", None, _BUSY)
            self.cache.put(data, out, now)
            try:
                self._udp.sendto(out, addr)
            except OSError:  # send buffer full: the phone retransmits and gets the cached answer
                pass
            return
        headers = salvage_reply_headers(data)
        if headers is None or self._udp is None:
            return
        response = Response(headers=headers, status=503, reason="Service Unavailable")
        response.headers.add("Retry-After", "5")
        response.headers.add("Content-Length", "0")
        out = bytes(response)
        self.cache.put(data, out, now)
        try:
            self._udp.sendto(out, addr)
        except OSError:
            pass

    def _on_message(self, data: bytes, peer: Peer, now: float, addr: tuple[str, int] | None = None) -> None:
        if len(data) < 8 and not data.strip():
            return  # CRLF keep-alive
        if data[:9] == b"REGISTER ":
            view = scan_register(data)
            if view is not None:  # the fast path; anything it is unsure of goes the strict way below
                self._register_view(view, data, peer, now)
                return
        try:
            message = parse_message(data)
        except SipSyntaxError as exc:
            self._malformed(data, exc, peer, now)
            return
        try:
            if isinstance(message, Request):
                if message.method == "REGISTER":
                    key = message.transaction_key()
                    response = self.cache.get(key, now)
                    if response is not None:  # a retransmission that is not byte-identical
                        self.retransmissions += 1
                    else:
                        response = bytes(self.registrar.handle(message, str(peer), now))
                        self.cache.put(key, response, now)
                    if peer.transport == "udp":
                        self.cache.put(data, response, now)
                    self._send(Send(peer, response))
                    return
                sends = self.proxy.on_request(message, peer, now)  # type: ignore[union-attr]
            else:
                sends = self.proxy.on_response(message, peer, now)  # type: ignore[union-attr]
        except SipSyntaxError as exc:  # a header only looked at by the engine was malformed
            self._malformed(data, exc, peer, now)
            return
        except Exception as exc:  # a bug must cost one message, never the service
            self.malformed += 1
            if now - self._last_malformed_log >= 1.0:
                self._last_malformed_log = now
                log.exception("SIP: message from %s could not be handled: %s", peer, exc)
            return
        for send in sends:
            self._send(send)

    def _register_view(self, view: RegisterView, data: bytes, peer: Peer, now: float) -> None:
        """A REGISTER the view accepted: what the strict branch of ``_on_message`` does, without a ``Request``."""
        cache = self.cache
        key = view.key
        response = cache.get(key, now)
        if response is not None:  # a retransmission that is not byte-identical
            self.retransmissions += 1
        else:
            try:
                response = self.registrar.handle_view(view, f"{peer[0]}:{peer[1]}:{peer[2]}", now)
            except Exception as exc:  # a bug must cost one message, never the service
                self.malformed += 1
                if now - self._last_malformed_log >= 1.0:
                    self._last_malformed_log = now
                    log.exception("SIP: message from %s could not be handled: %s", peer, exc)
                return
            cache.put(key, response, now)
        if peer[0] == "udp":
            cache.put(data, response, now)
            if self._udp is not None:
                try:
                    self._udp.sendto(response, (peer[1], peer[2]))
                except OSError as exc:
                    log.debug("SIP: send to %s failed: %s", peer, exc)
            return
        self._send(Send(peer, response))

    def _malformed(self, data: bytes, exc: SipSyntaxError, peer: Peer, now: float) -> None:
        self.malformed += 1
        if now - self._last_malformed_log >= 1.0:
            self._last_malformed_log = now
            log.info("SIP: malformed message from %s: %s", peer, exc)
        headers = salvage_reply_headers(data)
        if headers is None:
            return  # a response, or nothing to answer to: drop
        response = Response(headers=headers, status=400, reason="Bad Request")
        response.headers.add("Warning", '399 wangnet "' + str(exc).replace('"', "'")[:200] + '"')
        response.headers.add("Content-Length", "0")
        out = bytes(response)
        if peer.transport == "udp":
            self.cache.put(data, out, now)
        self._send(Send(peer, out))

    def _send(self, send: Send) -> None:
        peer = send.peer
        if peer.transport == "udp":
            if self._udp is not None:
                try:
                    self._udp.sendto(send.data, (peer.host, peer.port))
                except OSError as exc:
                    log.debug("SIP: send to %s failed: %s", peer, exc)
            return
        conn = self._tcp.get((peer.host, peer.port))
        if conn is not None:
            conn.write(send.data)
        elif self._loop is not None:
            self._loop.create_task(self._connect_and_send(peer, send.data))

    async def _connect_and_send(self, peer: Peer, data: bytes) -> None:
        try:
            assert self._loop is not None
            _, conn = await asyncio.wait_for(
                self._loop.create_connection(lambda: _TcpConnection(self), peer.host, peer.port), 5
            )
            conn.write(data)
        except (OSError, asyncio.TimeoutError) as exc:
            log.info("SIP: cannot reach %s over TCP: %s", peer, exc)

    # ---- background -----------------------------------------------------------------------------
    async def _housekeeping(self) -> None:
        next_flush = next_refresh = time.monotonic()
        while True:
            await asyncio.sleep(0.25)
            now = time.time()
            if self.proxy is not None:
                for send in self.proxy.tick(now):
                    self._send(send)
            self.cache.sweep(now)
            mono = time.monotonic()
            if mono >= next_flush:
                next_flush = mono + self.flush_interval
                if self._kernel_gate is not None:
                    drops = self._kernel_gate.kernel_drops()
                    if drops is not None:
                        self.kernel_drops = drops - self._kernel_drops_at_start
                self.location.expire(now)
                self.registrar.throttle.sweep(now)
                if self.secondary:
                    self._link_send(workers.stats(self.worker, self._totals()))
                else:
                    self._update_metrics()
                try:
                    await self._flush()
                except Exception:  # the store being away must not stop the registrar
                    log.exception("SIP: writing bindings behind failed; will retry")
            if mono >= next_refresh:
                next_refresh = mono + self.refresh_interval
                try:
                    self.directory.replace(await asyncio.to_thread(persistence.load_credentials, self.store))
                except Exception:
                    log.exception("SIP: refreshing credentials failed; keeping the old ones")

    async def _flush(self) -> None:
        if self.secondary:  # the primary alone writes the store
            self._sync()
            return
        async with self._flush_lock:  # one writer at a time; a caller of flush() waits for one in progress
            bindings, activity = self.location.take_dirty()
            if not bindings and not activity:
                return
            try:
                await asyncio.to_thread(persistence.flush, self.store, self.directory.phones, bindings, activity)
            except BaseException:
                self.location.dirty.update(bindings)  # try again next time
                for extension, act in activity.items():  # keep the failure counts for the next attempt
                    pending = self.location.activity.setdefault(extension, act)
                    if pending is not act:
                        pending.new_failures += act.new_failures
                raise

    async def refresh_credentials(self) -> None:
        """Reload HA1s now (the registry calls this after creating phones, instead of waiting)."""
        self.directory.replace(await asyncio.to_thread(persistence.load_credentials, self.store))

    async def flush(self) -> None:
        """Write pending binding changes to the store now."""
        await self._flush()

    def _update_metrics(self) -> None:
        m = self.metrics
        m.bindings.set(self.location.count())
        m.phones.set(len(self.directory))
        m.transaction_cache.set(len(self.cache))
        m.admitted_share.set(self.gate.admit)
        for name, total in self._totals().items():  # this process's counters plus the other workers'
            m.advance(name, total)
        if self.proxy is not None:
            m.advance("calls", self.proxy.stats.calls_attempted)
            m.advance("calls_answered", self.proxy.stats.calls_answered)


def _has_authorization(data: bytes) -> bool:
    return b"\nAuthorization:" in data or b"\nauthorization:" in data


class _TcpConnection(asyncio.Protocol):
    """One TCP connection: frames messages by Content-Length and hands them to the service."""

    def __init__(self, service: SipService) -> None:
        self.service = service
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.peer: Peer | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        host, port = transport.get_extra_info("peername")[:2]
        self.peer = Peer("tcp", host, port)
        self.service._tcp[(host, port)] = self

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.service._tcp.get((self.peer.host, self.peer.port)) is self:
            del self.service._tcp[(self.peer.host, self.peer.port)]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while buffer:
            while buffer[:2] == b"\r\n":  # keep-alives between messages
                del buffer[:2]
            if not buffer:
                return
            try:
                length = frame_length(buffer)
            except SipSyntaxError as exc:
                self.service._malformed(bytes(buffer), exc, self.peer, time.time())  # type: ignore[arg-type]
                self.close()
                return
            if length is None:
                return
            message = bytes(buffer[:length])
            del buffer[:length]
            self.service._on_message(message, self.peer, time.time())  # type: ignore[arg-type]

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

