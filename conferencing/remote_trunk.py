"""Trunks between bridges in different processes: the offer and answer of a trunk leg over HTTP.

The downstream bridge (the one whose sites watch the stream) pulls: it POSTs
``{"from", "to", "site"}`` to the upstream process's
``/api/v1/conferences/<cid>/trunks`` with the bridge secret as a bearer token;
the upstream makes a ``TrunkSender`` and answers ``201`` with its SDP offer and
a ``Location``; the downstream answers it with a ``TrunkReceiver`` and PATCHes
the SDP answer there; ``DELETE`` closes it. The downstream pulls because its
own layout says what its sites watch; the media then flows exactly as with an
in-process ``TrunkLeg`` (one aiortc peer connection, keyframe requests back
over its RTCP).

The downstream then probes the resource every ``PROBE_SECONDS``: a refused
connection (the upstream process was killed) or a 404 (it restarted and
forgot the trunk) marks the trunk ``lost``; it is opened again every
``RETRY_SECONDS`` until the upstream answers — at whatever URL the registry
(``conferencing.peers``) now gives. The upstream drops a trunk nobody probed
for ``IDLE_SECONDS`` (the downstream process vanished).
"""
from __future__ import annotations

import asyncio
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urljoin

from conferencing.bridge import Bridge
from conferencing.trunk import KINDS, TrunkReceiver, TrunkSender
from wangnet.credentials import Secret

log = logging.getLogger(__name__)

PROBE_SECONDS = 2.0
RETRY_SECONDS = 1.0
HTTP_TIMEOUT = 10.0
DELETE_TIMEOUT = 3.0
IDLE_SECONDS = 15.0
"""An upstream trunk not probed for this long belongs to a downstream process that is gone."""
ANSWER_SECONDS = 30.0
"""An offered trunk whose answer never came is dropped after this long."""

Key = tuple[str, str, str]
"""(from_bridge, to_bridge, source_site)"""


class TrunkRequestError(ValueError):
    """A trunk request the upstream refuses; the message says what is wrong."""


class TrunkUnavailable(ConnectionError):
    """The trunk cannot be opened now (peer not running, not registered, refused); retried."""


class Directory(Protocol):
    """What a remote trunk needs of ``conferencing.peers.BridgeDirectory``."""

    token: Secret | None

    def url_of(self, bridge: str) -> str | None: ...


def trunk_request(key: Key) -> bytes:
    src, dst, site = key
    return json.dumps({"from": src, "to": dst, "site": site}).encode()


def parse_trunk_request(body: bytes | str) -> Key:
    """The POSTed JSON → (from, to, site); TrunkRequestError naming the bad field."""
    try:
        data = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise TrunkRequestError(f"the trunk request is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise TrunkRequestError('the trunk request must be a JSON object {"from", "to", "site"}')
    out = []
    for name in ("from", "to", "site"):
        value = data.get(name)
        if not isinstance(value, str) or not value or len(value) > 64:
            raise TrunkRequestError(f'"{name}" must be a site id (a non-empty string), not {value!r}')
        out.append(value)
    return out[0], out[1], out[2]


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # bridges talk directly, never via a proxy


def call(method: str, url: str, token: Secret | None, body: bytes | None = None, content_type: str | None = None,
         timeout: float = HTTP_TIMEOUT) -> tuple[int, dict[str, str], str]:
    """One HTTP request to a peer bridge (worker thread): (status, headers, body); TrunkUnavailable if unreachable."""
    request = urllib.request.Request(url, data=body, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token.reveal()}")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers or {}), exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise TrunkUnavailable(f"{method} {url}: {getattr(exc, 'reason', None) or exc}") from None


def _why(status: int, body: str) -> str:
    try:
        message = json.loads(body).get("error")
    except (ValueError, AttributeError):
        message = None
    return f"{status} {message or body[:200]}"


class RemoteTrunk:
    """The downstream end of a trunk whose upstream bridge runs in another process."""

    def __init__(self, conference_id: str, bridge: Bridge, key: Key, directory: Directory) -> None:
        self.conference_id = conference_id
        self.bridge = bridge
        self.key = key
        self.directory = directory
        self.state = "connecting"
        """``connecting`` (never up yet) | ``up`` | ``lost`` (was up, being re-opened)."""
        self.reason = ""
        self.losses = 0
        self.receiver: TrunkReceiver | None = None
        self.location: str | None = None
        self._broken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._deletes: set[asyncio.Task[None]] = set()

    @property
    def site(self) -> str:
        return self.key[2]

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    def kbps(self) -> float:
        now = time.monotonic()
        return sum(self.bridge.source(self.site, kind).meter.kbps(now) for kind in KINDS) if self.state == "up" else 0.0

    async def _run(self) -> None:
        while True:
            try:
                await self._open()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # unreachable, refused, a bad answer: all retried the same way
                if str(exc) != self.reason:  # once per new reason, not once per retry
                    log.log(logging.INFO if isinstance(exc, TrunkUnavailable) else logging.ERROR,
                            "trunk %s is not up: %s (retrying every %.0f s)", self._name(), exc, RETRY_SECONDS,
                            exc_info=not isinstance(exc, TrunkUnavailable))
                await self._down(str(exc))
                await asyncio.sleep(RETRY_SECONDS)
                continue
            self.state, self.reason = "up", ""
            log.info("trunk %s is up (%s)", self._name(), self.location)
            await self._down(await self._watch())
            await asyncio.sleep(RETRY_SECONDS)

    def _name(self) -> str:
        src, dst, site = self.key
        return f"{src}>{dst} [{site}] of conference {self.conference_id}"

    async def _open(self) -> None:
        src = self.key[0]
        base = self.directory.url_of(src)
        if base is None:
            raise TrunkUnavailable(f'no process has registered the bridge "{src}"')
        token = self.directory.token
        if token is None:
            raise TrunkUnavailable("no bridge secret is set (WANGNET_CRED_CONFERENCE_BRIDGE_TOKEN)")
        url = f"{base}/api/v1/conferences/{self.conference_id}/trunks"
        status, headers, body = await asyncio.to_thread(call, "POST", url, token, trunk_request(self.key),
                                                        "application/json")
        if status != 201 or "Location" not in headers:
            raise TrunkUnavailable(f"{url} refused the trunk: {_why(status, body)}")
        self.location = urljoin(base + "/", headers["Location"])
        receiver = TrunkReceiver(self.bridge, self.site)
        self.receiver = receiver
        self._broken.clear()

        @receiver.pc.on("connectionstatechange")
        def changed() -> None:
            if receiver.pc.connectionState in ("failed", "closed") and self.receiver is receiver:
                self._broken.set()

        answer = await receiver.answer(body)
        status, _, body = await asyncio.to_thread(call, "PATCH", self.location, token, answer.encode(),
                                                  "application/sdp")
        if status != 204:
            raise TrunkUnavailable(f"{self.location} refused the answer: {_why(status, body)}")

    async def _watch(self) -> str:
        """Wait until the trunk breaks; the reason."""
        while True:
            try:
                await asyncio.wait_for(self._broken.wait(), PROBE_SECONDS)
                return "its connection failed"
            except asyncio.TimeoutError:
                pass
            assert self.location is not None
            try:
                status, _, body = await asyncio.to_thread(call, "GET", self.location, self.directory.token)
            except TrunkUnavailable as exc:
                return f"the upstream bridge process is unreachable ({exc})"
            if status != 200:
                return f"the upstream bridge answered {_why(status, body)}"

    async def _down(self, reason: str) -> None:
        if self.state == "up":
            self.losses += 1
            self.state = "lost"
            log.warning("trunk %s lost: %s (re-opening every %.0f s)", self._name(), reason, RETRY_SECONDS)
        self.reason = reason
        await self._release()

    async def _release(self) -> None:
        receiver, location = self.receiver, self.location
        self.receiver = self.location = None
        if receiver is not None:
            try:
                await receiver.close()
            except Exception:  # a half-open pc may fail to close; the source is detached either way
                log.debug("closing the receiver of %s failed", self._name(), exc_info=True)
        if location is not None:  # tell the upstream, if it still listens; never wait for it here
            job = asyncio.ensure_future(_quietly(call, "DELETE", location, self.directory.token, None, None,
                                                 DELETE_TIMEOUT))
            self._deletes.add(job)
            job.add_done_callback(self._deletes.discard)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        await self._release()
        if self._deletes:  # closing for good: let the upstream hear it (a dead one refuses at once)
            await asyncio.wait(self._deletes, timeout=DELETE_TIMEOUT + 1)


async def _quietly(*args: object) -> None:
    """A best-effort ``call`` in a worker thread: the trunk is gone either way."""
    try:
        await asyncio.to_thread(call, *args)  # type: ignore[arg-type]
    except Exception:
        pass


@dataclass
class OutgoingTrunk:
    """The upstream end of a remote trunk: a TrunkSender the downstream process answered."""

    id: str
    key: Key
    sender: TrunkSender
    created: float = field(default_factory=time.monotonic)
    answered: bool = False
    last_seen: float = field(default_factory=time.monotonic)

    def state(self, now: float) -> str:
        """As the snapshot shows it: ``connecting`` until answered, ``lost`` once the probes stop coming."""
        if not self.answered:
            return "connecting"
        return "up" if now - self.last_seen <= 3 * PROBE_SECONDS else "lost"

    def expired(self, now: float) -> str | None:
        """Why this trunk should be dropped now, or None."""
        if self.sender.pc.connectionState in ("failed", "closed"):
            return "its connection failed"
        if self.sender.stale:  # the downstream's next probe gets a 404 and pulls the trunk again
            return "its source changed codec"
        if not self.answered and now - self.created > ANSWER_SECONDS:
            return f"no answer within {ANSWER_SECONDS:.0f} s"
        if now - self.last_seen > IDLE_SECONDS:
            return f"the downstream bridge has not probed it for {IDLE_SECONDS:.0f} s"
        return None
