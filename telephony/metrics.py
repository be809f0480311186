"""Prometheus metrics of the SIP engine, on a registry of its own (tests and several services never collide).

Counters are bumped from the engine's plain integer stats once per second
rather than per message, so the hot path pays nothing for them.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class SipMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.bindings = Gauge("wangnet_sip_bindings", "Registered contacts (unexpired bindings)", registry=r)
        # how many phones this registrar knows, read from the database the web app writes (a split deployment)
        self.phones = Gauge("wangnet_sip_phones", "Phones the registrar knows (loaded from the database)", registry=r)
        self.registrations = Counter("wangnet_sip_registrations_total", "Successful REGISTER requests", registry=r)
        self.auth_failures = Counter("wangnet_sip_auth_failures_total", "REGISTER requests with wrong credentials", registry=r)
        self.challenges = Counter("wangnet_sip_challenges_total", "401 challenges sent", registry=r)
        self.calls = Counter("wangnet_sip_calls_total", "INVITEs proxied to a registered phone", registry=r)
        self.calls_answered = Counter("wangnet_sip_calls_answered_total", "Proxied INVITEs answered 2xx", registry=r)
        self.retransmissions = Counter("wangnet_sip_retransmissions_total", "Requests answered from the transaction cache", registry=r)
        self.shed = Counter("wangnet_sip_shed_total", "Datagrams dropped unparsed because they waited too long", registry=r)
        self.rejected_busy = Counter("wangnet_sip_overload_rejected_total", "New REGISTERs answered 503 under backlog", registry=r)
        self.gate_closings = Counter("wangnet_sip_gate_closings_total",
                                     "Times new REGISTERs were shut out in the kernel while a backlog drained", registry=r)
        self.gate_dropped = Counter("wangnet_sip_gate_dropped_total",
                                    "UDP datagrams the kernel dropped on the SIP socket (new REGISTERs shut out "
                                    "by the gate, or a full receive buffer)", registry=r)
        self.malformed = Counter("wangnet_sip_malformed_total", "Messages rejected as malformed", registry=r)
        self.admitted_share = Gauge("wangnet_sip_admitted_share",
                                    "Share of new REGISTERs the kernel lets in (1: no shedding; admission gate)",
                                    registry=r)
        self.transaction_cache = Gauge("wangnet_sip_transaction_cache_entries", "Server transactions cached", registry=r)
        self._last: dict[str, int] = {}

    def advance(self, name: str, total: int) -> None:
        """Bring counter ``name`` up to the engine's running ``total``."""
        delta = total - self._last.get(name, 0)
        if delta > 0:
            getattr(self, name).inc(delta)
            self._last[name] = total
