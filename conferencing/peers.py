"""Where the conference bridges run: the registry of bridge processes in the shared store.

Scale-out runs a bridge in its own process (``wangnet bridge --site dalad``);
``wangnet serve`` runs every other bridge. Each process keeps one row in
``conference_bridge_processes`` — what it claims (a bridge site, or ``"*"``
for serve) and the base URL of its web app — and refreshes its heartbeat every
``HEARTBEAT_SECONDS``. A bridge that needs a stream from a bridge in another
process looks the runner's URL up here and pulls the trunk over HTTP
(``conferencing.remote_trunk``).

Why the store and not settings: every process already shares it, a
restarted bridge process on another port is found again without touching
the others' configuration, and the claim tells serve which bridges not to run.
A killed process leaves its row: its claim holds for ``CLAIM_TTL`` so that
serve does not take the bridge over while it restarts (its trunks show as
``lost`` meanwhile); a clean stop deletes the row and serve takes the bridge
back.

The shared secret bridges present to each other comes from the credentials
mechanism (``WANGNET_CRED_CONFERENCE_BRIDGE_TOKEN`` or the secrets file's
``conference-bridge.token``); it authorises opening trunks and nothing else.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Mapping

from wangnet.config import Settings
from wangnet.credentials import CredentialError, CredentialResolver, Secret
from wangnet.store import Store

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

ANY = "*"
"""The claim of the ``wangnet serve`` process: every bridge nobody else claimed."""
HEARTBEAT_SECONDS = 2.0
STALE_SECONDS = 15.0
"""A process whose heartbeat is older is presumed down (a second one may then claim its bridge)."""
CLAIM_TTL = 300.0
"""A claim left by a killed process holds this long before serve takes its bridge back."""
CREDENTIAL = "conference-bridge"
CREDENTIAL_FIELD = "token"


@dataclass(frozen=True)
class Peer:
    """One registered bridge process."""

    claim: str
    url: str
    process: str
    heartbeat_at: float
    """Seconds since the epoch."""
    started_at: float = 0.0
    """When this incarnation registered (seconds since the epoch): a restart with the same pid still differs."""

    def fresh(self, now: float) -> bool:
        return now - self.heartbeat_at < STALE_SECONDS


def runner_of(bridge: str, peers: Mapping[str, Peer], now: float) -> Peer | None:
    """The process that runs ``bridge``: the one claiming it (until its claim expires), else serve, else nobody."""
    own = peers.get(bridge)
    if own is not None and now - own.heartbeat_at < CLAIM_TTL:
        return own
    return peers.get(ANY)


def stranded(process: str | None, peers: Mapping[str, Peer], now: float, at: float | None = None) -> bool:
    """Whether a participation recorded by ``process`` ("host:pid") at ``at`` lost its bridge process.

    True when that process's heartbeat is stale (killed), when no row names
    it any more (it stopped, or a restarted process took its claim over: the
    media it held are gone either way), or when the row is a later
    incarnation with the same pid (a container restarted: pid 1 again).
    None (recorded before processes were tracked, or by a test) is never
    stranded.
    """
    if not process:
        return False
    for peer in peers.values():
        if peer.process == process:
            return not peer.fresh(now) or (at is not None and at < peer.started_at)
    return True


def reaper(peers: Mapping[str, Peer], now: float) -> str | None:
    """The claim of the one live process that marks stranded sites lost (the smallest claim: serve's ``*`` first).

    One writer so that each loss is recorded once; every process computes the
    same answer from the same rows.
    """
    live = sorted(claim for claim, peer in peers.items() if peer.fresh(now))
    return live[0] if live else None


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive_here(process: str) -> bool:
    """True when ``process`` ("host:pid") is a live process on this host."""
    host, _, pid = process.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_conflict(peer: Peer | None, me: str, now: float) -> str | None:
    """Why this process may not take ``peer``'s claim (another live process holds it), or None."""
    if peer is None or peer.process == me or not peer.fresh(now):
        return None
    host = peer.process.rpartition(":")[0]
    if host == socket.gethostname() and not _alive_here(peer.process):
        return None  # killed and restarted on this host: take the claim over at once
    age = now - peer.heartbeat_at
    return (f'bridge "{peer.claim}" is already run by process {peer.process} at {peer.url} '
            f"(heartbeat {age:.0f} s ago); stop it first, or wait {STALE_SECONDS:.0f} s if it was killed")


def default_url(settings: Settings, port: int | None = None) -> str:
    """Base URL others reach this process at: the setting, else the web listener (wildcards → loopback)."""
    if settings.conference_bridge_url:
        return settings.conference_bridge_url.rstrip("/")
    host = settings.web_host if settings.web_host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.web_port if port is None else port}"


def bridge_token(settings: Settings, needed: bool = True) -> Secret | None:
    """The shared bridge secret, or None (trunks between processes are then refused, and say so).

    ``needed``: a ``wangnet bridge`` process cannot work without it (warning);
    a lone ``wangnet serve`` does not need it (info).
    """
    try:
        return CredentialResolver.from_settings(settings).field(CREDENTIAL, CREDENTIAL_FIELD)
    except CredentialError as exc:
        log.log(logging.WARNING if needed else logging.INFO,
                "trunks between bridge processes are off until the bridge secret is set: %s", exc)
        return None


def _epoch(value: datetime) -> float:
    if value.tzinfo is None:  # SQLite hands back naive datetimes
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def read_peers(store: Store) -> dict[str, Peer]:
    """Every registered process, by claim (worker thread)."""
    with store.session() as s:
        return session_peers(s)


def session_peers(session: "Session") -> dict[str, Peer]:
    """Every registered process, by claim, read in the caller's session (its transaction)."""
    from sqlalchemy import select

    from conferencing.models import BridgeProcess

    return {row.claim: Peer(row.claim, row.url, row.process, _epoch(row.heartbeat_at), _epoch(row.started_at))
            for row in session.scalars(select(BridgeProcess))}


class BridgeDirectory:
    """The Service that registers this process and keeps a cached copy of everyone's rows."""

    name = "conference-bridge-directory"

    def __init__(self, settings: Settings, store: Store, claim: str = ANY, url: str | None = None) -> None:
        self.settings, self.store, self.claim = settings, store, claim
        self.url = url or default_url(settings)
        self.me = this_process()
        self.peers: dict[str, Peer] = {}
        self.token: Secret | None = None
        self._registered = False
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------- lookups (loop thread, no I/O)

    def runs_here(self, bridge: str) -> bool:
        """Whether this process should host ``bridge``."""
        if self.claim != ANY:
            return bridge == self.claim
        runner = runner_of(bridge, self.peers, _now())
        return runner is None or runner.claim == ANY

    def url_of(self, bridge: str) -> str | None:
        """Base URL of the process running ``bridge`` (even a stale one: a trunk to it is then reported lost)."""
        runner = runner_of(bridge, self.peers, _now())
        return runner.url if runner is not None else None

    def alive(self, bridge: str) -> bool:
        runner = runner_of(bridge, self.peers, _now())
        return runner is not None and runner.fresh(_now())

    # ------------------------------------------------------------- service

    async def start(self) -> None:
        self.token = bridge_token(self.settings, needed=self.claim != ANY)
        await asyncio.to_thread(self._beat)
        self._task = asyncio.create_task(self._run(), name="conference-bridge-directory")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        try:
            await asyncio.to_thread(self._unregister)
        except Exception:  # the store may be gone already; the claim then expires
            log.exception("could not remove this bridge process's registration")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                await asyncio.to_thread(self._beat)
            except Exception:  # a busy or unreachable database must not end the heartbeat
                log.exception("bridge registry heartbeat failed")

    def _beat(self) -> None:
        """Write our row (heartbeat), read everyone's."""
        from conferencing.models import BridgeProcess

        now = datetime.now(timezone.utc)
        with self.store.session() as s:
            row = s.get(BridgeProcess, self.claim)
            if row is None:
                s.add(BridgeProcess(claim=self.claim, url=self.url, process=self.me, started_at=now, heartbeat_at=now))
            else:
                if row.process != self.me:
                    log.warning('taking over the claim "%s" from process %s', self.claim, row.process)
                if row.process != self.me or not self._registered:  # a new incarnation, even with the same pid
                    row.started_at = now
                row.url, row.process, row.heartbeat_at = self.url, self.me, now
        self._registered = True
        self.peers = read_peers(self.store)

    def _unregister(self) -> None:
        from conferencing.models import BridgeProcess

        with self.store.session() as s:
            row = s.get(BridgeProcess, self.claim)
            if row is not None and row.process == self.me:
                s.delete(row)


def _now() -> float:
    return time.time()
