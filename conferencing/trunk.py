"""Bridge ↔ bridge trunks: real aiortc peer connections carrying a source site's streams once.

A trunk leg carries one source site's video and audio from one bridge to the
next one on the cascade (township's banner → city, city → another banner);
the receiving bridge fans it out to all its subscribers, so the backbone
link carries each stream once however many sites watch it. Keyframe requests
travel back the same way: a PLI from the receiving bridge arrives at the
sending slot, whose source asks its own upstream (publisher or next trunk).
A leg carries its source's video codec (VP8 or H264, as published) and
offers only that one, so both ends agree without a transcode. A source whose
codec was not known when the leg opened (its publisher not joined yet, or fed
by a leg opened at the same moment) or that changed since makes the leg
``stale``: ConferenceMedia closes it and opens a fresh one on its next tick.

The two halves are separate so that bridges in different processes
(``wangnet bridge --site``) exchange the offer and answer over HTTP
(``conferencing.remote_trunk``); in one process ``TrunkLeg`` calls them directly.
"""
from __future__ import annotations

import logging

from aiortc import RTCSessionDescription

from conferencing.bridge import Bridge, Meter, Slot, Source, answer_offer, attach_source
from conferencing.h264 import fmtp_profile
from conferencing.passthrough import ReceiverTap, peer_connection, pin_codecs, tap_sender

log = logging.getLogger(__name__)
KINDS = ("video", "audio")


class TrunkSender:
    """The sending half, at the bridge where the source already is."""

    def __init__(self, bridge: Bridge, site: str) -> None:
        self.bridge = bridge
        self.site = site
        self.pc = peer_connection()
        self.slots: list[Slot] = []
        self.stale = False
        """The source's codec is not the one this leg negotiated: reopen the leg."""

    async def offer(self) -> str:
        for kind in KINDS:
            slot = Slot(kind, f"trunk-{kind}")
            transceiver = self.pc.addTransceiver(slot.track, direction="sendonly")
            source = self.bridge.source(self.site, kind)
            if kind == "video":
                _pin_to_source(transceiver, source)
                slot.on_mismatch = self._mismatch
            else:
                pin_codecs(transceiver)
            tap_sender(transceiver.sender, slot.on_keyframe_request)
            slot.bind(source)
            self.slots.append(slot)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept(self, answer_sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))

    def _mismatch(self, slot: Slot, source: Source) -> None:
        log.info("trunk of %s from %s: its video is now %s; the leg will be reopened", self.site,
                 self.bridge.site, source.codec)
        self.stale = True

    def kbps(self) -> float:
        return sum(slot.meter.kbps() for slot in self.slots)

    async def close(self) -> None:
        for slot in self.slots:
            slot.close()
        await self.pc.close()


class TrunkReceiver:
    """The receiving half: the remote source becomes a local ``Source`` of the receiving bridge."""

    def __init__(self, bridge: Bridge, site: str) -> None:
        self.bridge = bridge
        self.site = site
        self.pc = peer_connection()
        self.taps: dict[str, ReceiverTap] = {}

    async def answer(self, offer_sdp: str) -> str:
        await answer_offer(self.pc, offer_sdp)
        for transceiver in self.pc.getTransceivers():
            kind = transceiver.kind
            if kind in self.taps:
                continue
            self.taps[kind] = attach_source(self.bridge.source(self.site, kind), transceiver)
        self.bridge.reroute(self.site)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    async def close(self) -> None:
        for kind, tap in self.taps.items():
            self.bridge.source(self.site, kind).detach(tap)
        await self.pc.close()


def _pin_to_source(transceiver, source: Source) -> None:  # type: ignore[no-untyped-def]
    """Offer the source's video codec (VP8 while unknown); for H264 the format of the source's profile."""
    if source.codec != "H264":
        pin_codecs(transceiver, "VP8")
        return
    wanted = fmtp_profile(source.codec_params)
    pin_codecs(transceiver, "H264", lambda params: fmtp_profile(params) == wanted)


class TrunkLeg:
    """One source site's streams from ``upstream`` bridge to ``downstream`` bridge, both in this process."""

    def __init__(self, sender_bridge: Bridge, receiver_bridge: Bridge, site: str) -> None:
        self.sender = TrunkSender(sender_bridge, site)
        self.receiver = TrunkReceiver(receiver_bridge, site)
        self.site = site
        self.meter = Meter()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.sender.bridge.site, self.receiver.bridge.site, self.site)

    async def open(self) -> None:
        offer = await self.sender.offer()
        answer = await self.receiver.answer(offer)
        await self.sender.accept(answer)

    def kbps(self) -> float:
        return self.sender.kbps()

    @property
    def stale(self) -> bool:
        return self.sender.stale

    async def close(self) -> None:
        await self.receiver.close()
        await self.sender.close()
