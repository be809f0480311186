"""Benchmark of the conference bridge: forwarding capacity, added delay per hop, the 59-site conference.

Run: ``.venv/bin/python bench/sfu/run.py [--subscribers 10,30] [--seconds 8]``. The bridges run in a
child process (ConferenceMedia, as in ``wangnet serve``); synthetic aiortc publishers and subscribers run
in this process on 127.0.0.1 and never decode. A 0.8 Mbit/s VP8 clip (640x360, 30 fps) and a 32 kbit/s
Opus clip are encoded once by ffmpeg and sent as pre-encoded packets, so the endpoints cost little; the
subscribers are lean too (``passthrough.tap_rtp_bytes``: they count SRTP datagrams as they arrive, before
aiortc decrypts or queues them — with aiortc's whole receive path 40 of them in one process could not keep
up with the bridge). Only the delay measurement decrypts and assembles frames. Prints:

* forwarded 0.8 Mbit/s streams per CPU core of the bridge process (marginal cost between two loads),
  beside mediasoup's published ~500 consumers per worker core;
* aiortc's own relay (decode once, encode per subscriber) measured in the same run: CPU per subscriber;
* added delay per bridge hop: 0 bridges (peer to peer), 1 bridge, 3 bridges (township → banner → city →
  banner), beside one frame interval (33 ms at 30 fps; aiortc's jitter buffer alone adds one frame);
* the 59-site conference: the speaker (a township) and the host (city) publish, every site receives
  the speaker plus the host (main + thumbnail, two audios) — CPU of the bridge process, with the share
  of the nominal frame rate the synthetic endpoints managed to take.
"""
from __future__ import annotations

import argparse
import asyncio
import fractions
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
from aiortc import MediaStreamTrack, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import MediaStreamError  # noqa: E402

from conferencing.passthrough import (  # noqa: E402
    SRTP_AUTH_TAG,
    peer_connection,
    tap_receiver,
    tap_rtp_bytes,
    use_host_addresses,
)

MEDIASOUP_CONSUMERS_PER_CORE = 500
TARGET_STREAMS_PER_CORE = 300
FRAME_INTERVAL_MS = 1000 / 30


# ---------------------------------------------------------------- endpoints

class PacketTrack(MediaStreamTrack):
    """A benchmark publisher's track: it yields encoded ``av.Packet``s handed to it, so the sender packs instead of encoding."""

    def __init__(self, kind: str, maxsize: int = 60) -> None:
        super().__init__()
        self.kind = kind
        self.queue: asyncio.Queue[av.Packet | None] = asyncio.Queue(maxsize)

    def put(self, data: bytes, pts: int, clock_rate: int) -> bool:
        """Queue one frame; False when the queue is full (the subscriber stalls)."""
        if self.queue.full():
            return False
        packet = av.Packet(data)
        packet.pts = pts
        packet.time_base = fractions.Fraction(1, clock_rate)
        self.queue.put_nowait(packet)
        return True

    def flush(self) -> int:
        dropped = 0
        while not self.queue.empty():
            self.queue.get_nowait()
            dropped += 1
        return dropped

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self.queue.get()
        if packet is None:
            raise MediaStreamError
        return packet

    def stop(self) -> None:
        if self.readyState == "live":
            try:
                self.queue.put_nowait(None)
            except asyncio.QueueFull:
                self.flush()
                self.queue.put_nowait(None)
        super().stop()


# ---------------------------------------------------------------- media clips

def make_clips(tmp: Path) -> tuple[list[tuple[bytes, int]], list[tuple[bytes, int]], float]:
    """(video [(frame, pts90k)], audio [(packet, pts48k)], clip seconds) encoded once by ffmpeg."""
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        raise SystemExit("ffmpeg is needed to make the clips (apt-get install ffmpeg)")
    seconds = 4
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=640x360:r=30", "-t", str(seconds),
                    "-c:v", "libvpx", "-b:v", "880k", "-minrate", "880k", "-maxrate", "880k", "-g", "120",
                    "-deadline", "realtime", "-y", str(tmp / "v.ivf")], check=True)
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=f=440:r=48000", "-t", str(seconds),
                    "-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-y", str(tmp / "a.ogg")], check=True)
    video = [(bytes(p), i * 3000) for i, p in enumerate(p for p in av.open(str(tmp / "v.ivf")).demux(video=0) if p.size)]
    audio = [(bytes(p), i * 960) for i, p in enumerate(p for p in av.open(str(tmp / "a.ogg")).demux(audio=0) if p.size)]
    return video, audio, float(seconds)


class ClipSender:
    """Feeds pre-encoded frames into PacketTracks in real time, looping; remembers when each frame left."""

    def __init__(self, clip: list[tuple[bytes, int]], clock: int, rate: float, seconds: float) -> None:
        self.clip, self.clock, self.rate, self.seconds = clip, clock, rate, seconds
        self.tracks: list[PacketTrack] = []
        self.sent_at: dict[bytes, float] = {}
        self.task: asyncio.Task | None = None

    def track(self, kind: str) -> PacketTrack:
        t = PacketTrack(kind, maxsize=1000)
        self.tracks.append(t)
        return t

    async def run(self) -> None:
        start = time.monotonic()
        n = 0
        while True:
            loop_no, index = divmod(n, len(self.clip))
            data, pts = self.clip[index]
            pts += int(loop_no * self.seconds * self.clock)
            due = start + n / self.rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            self.sent_at[data] = time.monotonic()
            for t in self.tracks:
                t.put(data, pts, self.clock)
            n += 1

    def start(self) -> None:
        self.task = asyncio.ensure_future(self.run())


# ---------------------------------------------------------------- the bridge process

def bridge_process(conn) -> None:  # type: ignore[no-untyped-def]
    """Serve ConferenceMedia (and aiortc's decode+encode relay) to the parent over a pipe."""
    asyncio.run(_bridge_main(conn))


async def _bridge_main(conn) -> None:  # type: ignore[no-untyped-def]
    from aiortc.contrib.media import MediaRelay

    from conferencing.layout import Layout, SiteView
    from conferencing.media import ConferenceMedia
    from conferencing.plan import CascadePlan, SitePlan, plan_cascade
    from topology import load_inventory
    from wangnet.config import Settings

    media = ConferenceMedia(Settings())
    await media.start()
    loop = asyncio.get_running_loop()
    relay = MediaRelay()
    relay_source = None
    relay_pcs = []
    inv = load_inventory(ROOT / "inventory.yaml")
    while True:
        cmd, *args = await loop.run_in_executor(None, conn.recv)
        try:
            if cmd == "stop":
                await media.stop()
                for pc in relay_pcs:
                    await pc.close()
                conn.send(None)
                return
            if cmd == "cpu":
                t = os.times()
                result = (t.user, t.system)
            elif cmd == "sent":  # packets the bridge sent to subscribers (not trunks), all conferences
                result = sum(slot.track.output.packets for conf in media.conferences.values()
                             for res in conf.resources.values() for slot in res.slots if slot.track.output is not None)
            elif cmd == "slots":  # what each subscriber slot is bound to and has sent (diagnostics)
                result = [(res.site, slot.name, slot.source.site if slot.source else None, slot._live,
                           slot.track.output.packets if slot.track.output else 0)
                          for conf in media.conferences.values() for res in conf.resources.values() for slot in res.slots]
            elif cmd == "snapshot":
                result = media.snapshot(args[0])
            elif cmd == "open_flat":  # one bridge, synthetic sites
                cid, sites = args
                plan = CascadePlan(city="hub", bridges=("hub",), parent={"hub": None}, sites={
                    s: SitePlan(s, "hub", 1_000_000, 0.0, "high", 8, 800, 1_000_000) for s in sites})
                await media.open(cid, plan)
                result = None
            elif cmd == "open_real":
                cid, sites = args
                await media.open(cid, plan_cascade(inv, sites))
                result = None
            elif cmd == "publish":
                result = await media.publish(*args)
            elif cmd == "subscribe":
                result = await media.subscribe(*args)
            elif cmd == "apply":
                cid, views = args
                await media.apply(cid, Layout({s: SiteView(v[0], tuple(v[1]), tuple(v[2])) for s, v in views.items()}))
                result = None
            elif cmd == "close":
                await media.close(args[0])
                result = None
            elif cmd == "relay_publish":  # aiortc as designed: the receiver decodes
                pc = peer_connection()
                relay_pcs.append(pc)
                await pc.setRemoteDescription(RTCSessionDescription(args[0], "offer"))
                for t in pc.getTransceivers():
                    if t.kind == "video":
                        relay_source = t.receiver.track
                await pc.setLocalDescription(await pc.createAnswer())
                result = pc.localDescription.sdp
            elif cmd == "relay_subscribe":  # ... and every subscriber's sender encodes
                pc = peer_connection()
                relay_pcs.append(pc)
                await pc.setRemoteDescription(RTCSessionDescription(args[0], "offer"))
                for t in pc.getTransceivers():
                    if t.kind == "video":
                        t.direction = "sendonly"
                        t.sender.replaceTrack(relay.subscribe(relay_source, buffered=False))
                await pc.setLocalDescription(await pc.createAnswer())
                result = pc.localDescription.sdp
            elif cmd == "relay_close":
                for pc in relay_pcs:
                    await pc.close()
                relay_pcs.clear()
                result = None
            else:
                raise ValueError(f"unknown command {cmd}")
            conn.send(("ok", result))
        except Exception as exc:  # report, keep serving
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class BridgeClient:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=bridge_process, args=(child,), daemon=True)
        self.proc.start()
        self.lock = asyncio.Lock()

    async def call(self, *cmd):  # type: ignore[no-untyped-def]
        async with self.lock:
            self.conn.send(cmd)
            status, result = await asyncio.get_running_loop().run_in_executor(None, self.conn.recv)
        if status != "ok":
            raise RuntimeError(f"bridge: {cmd[0]}: {result}")
        return result

    async def stop(self) -> None:
        self.conn.send(("stop",))
        await asyncio.get_running_loop().run_in_executor(None, self.conn.recv)
        self.proc.join(10)


# ---------------------------------------------------------------- endpoints

async def publisher(bridge: BridgeClient, cid: str, site: str, video: ClipSender | None, audio: ClipSender | None):  # type: ignore[no-untyped-def]
    pc = peer_connection()
    if video is not None:
        pc.addTransceiver(video.track("video"), direction="sendonly")
    if audio is not None:
        pc.addTransceiver(audio.track("audio"), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    _, answer = await bridge.call("publish", cid, site, pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return pc


class Receiver:
    """A synthetic subscriber. ``lean``: counts RTP bytes and frames (marker bits) as the datagrams arrive, before
    aiortc decrypts or queues them, so that 59 of them in this one process keep up with the bridge; otherwise
    (delay) frames are decrypted and assembled to recognise each one."""

    def __init__(self, sender: ClipSender | None = None, lean: bool = True) -> None:
        self.frames = 0
        self.packets = 0
        self.bytes = 0
        self.delays: list[float] = []
        self.sender = sender
        self.lean = lean and sender is None
        self.pc = peer_connection()

    def on_frame(self, frame) -> None:  # type: ignore[no-untyped-def]
        self.frames += 1
        self.bytes += len(frame.data)
        if self.sender is not None and frame.kind == "video":
            sent = self.sender.sent_at.get(frame.data)
            if sent is not None:
                self.delays.append(time.monotonic() - sent)

    def on_rtp(self, data: bytes) -> None:
        self.packets += 1
        self.bytes += len(data) - 12 - SRTP_AUTH_TAG  # the bridge sends plain 12-byte headers
        if data[1] & 0x80:
            self.frames += 1

    async def subscribe(self, bridge: BridgeClient, cid: str, site: str, videos: int = 1, audios: int = 0,
                        command: str = "subscribe") -> None:
        for kind, n in (("video", videos), ("audio", audios)):
            for _ in range(n):
                t = self.pc.addTransceiver(kind, direction="recvonly")
                if not self.lean:
                    tap_receiver(t.receiver, kind, self.on_frame)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        if command == "subscribe":
            _, answer = await bridge.call("subscribe", cid, site, self.pc.localDescription.sdp)
        else:
            answer = await bridge.call(command, self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        if self.lean:
            tap_rtp_bytes(self.pc, self.on_rtp)


async def wait_live(bridge: BridgeClient, timeout: float = 60.0) -> None:
    """Until every subscriber slot bound to a source is sending.

    The clip is pre-encoded, so its publisher cannot answer a keyframe request:
    a slot whose subscriber or trunk connected after a keyframe waits for the
    clip's next one (every 4 s). A browser answers at once; measuring before
    then counted seconds in which most slots sent no video at all.
    """
    deadline = time.monotonic() + timeout
    while True:
        idle = [f"{site}/{name}" for site, name, src, live, _ in await bridge.call("slots") if src is not None and not live]
        if not idle:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(idle)} slots never started: {idle[:5]}")
        await asyncio.sleep(0.2)


async def wait_frames(receivers: list[Receiver], n: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while any(r.frames < n for r in receivers):
        if time.monotonic() > deadline:
            got = sorted(r.frames for r in receivers)
            raise RuntimeError(f"receivers stalled: frames {got[:5]}…{got[-5:]}")
        await asyncio.sleep(0.1)


SHARE: dict[str, float] = {}
"""Per scenario: the share of the nominal frames the subscribers received in the measuring window."""
GENERATOR_CPU: dict[str, float] = {}
"""Per scenario: CPU of this process (the synthetic publishers and subscribers); near 1 core it starves them."""
SYSTEM_SHARE: dict[str, float] = {}
"""Per scenario: the part of the bridge's CPU spent in the kernel (on loopback that includes delivering each
datagram into the receiving endpoint's socket, which a NIC would take off the bridge's hands)."""


async def cpu_over(bridge: BridgeClient, seconds: float, label: str = "") -> float:
    """CPU seconds (user + system) per wall second of the bridge process."""
    (u0, s0), t0, own0 = await bridge.call("cpu"), time.monotonic(), os.times()
    await asyncio.sleep(seconds)
    (u1, s1), t1, own1 = await bridge.call("cpu"), time.monotonic(), os.times()
    total = (u1 - u0) + (s1 - s0)
    if label:
        SYSTEM_SHARE[label] = (s1 - s0) / total if total > 0 else 0.0
        GENERATOR_CPU[label] = (own1.user - own0.user + own1.system - own0.system) / (t1 - t0)
    return total / (t1 - t0)


# ---------------------------------------------------------------- scenarios

async def forwarding(bridge: BridgeClient, clips, loads: list[int], seconds: float) -> tuple[dict[int, float], dict[int, float]]:
    """Bridge CPU per load, and the kbit/s the subscribers really received (all of them together)."""
    video, _, clip_s = clips
    out: dict[int, float] = {}
    delivered: dict[int, float] = {}
    for k in [0, *loads]:
        cid = f"fwd{k}"
        subs = [f"s{i}" for i in range(k)]
        await bridge.call("open_flat", cid, ["pub", *subs])
        sender = ClipSender(video, 90000, 30, clip_s)
        pub = await publisher(bridge, cid, "pub", sender, None)
        sender.start()
        receivers = [Receiver() for _ in subs]
        for r, s in zip(receivers, subs):
            await r.subscribe(bridge, cid, s)
        await bridge.call("apply", cid, {s: ("pub", (), ()) for s in subs})
        await wait_frames(receivers, 30)
        await asyncio.sleep(1.0)
        before = [r.bytes for r in receivers]
        t0 = time.monotonic()
        out[k] = await cpu_over(bridge, seconds, f"fwd{k}")
        kbps = [(r.bytes - b) * 8 / 1000 / (time.monotonic() - t0) for r, b in zip(receivers, before)]
        delivered[k] = sum(kbps)
        sender.task.cancel()
        for r in receivers:
            await r.pc.close()
        await pub.close()
        await bridge.call("close", cid)
        print(f"  pass-through, {k:3d} subscribers: bridge CPU {out[k]:.3f} core ({100 * SYSTEM_SHARE[f'fwd{k}']:.0f}% kernel)"
              + (f" (each subscriber received {min(kbps):.0f}–{max(kbps):.0f} kbit/s)" if kbps else ""), flush=True)
    return out, delivered


async def decode_encode(bridge: BridgeClient, clips, loads: list[int], seconds: float) -> dict[int, float]:
    video, _, clip_s = clips
    out: dict[int, float] = {}
    for k in [0, *loads]:
        sender = ClipSender(video, 90000, 30, clip_s)
        pc = peer_connection()
        pc.addTransceiver(sender.track("video"), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        answer = await bridge.call("relay_publish", pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        sender.start()
        receivers = [Receiver() for _ in range(k)]
        for r in receivers:
            await r.subscribe(bridge, "", "", command="relay_subscribe")
        await wait_frames(receivers, 30, timeout=90)
        await asyncio.sleep(1.0)
        out[k] = await cpu_over(bridge, seconds)
        sender.task.cancel()
        for r in receivers:
            await r.pc.close()
        await pc.close()
        await bridge.call("relay_close")
        print(f"  aiortc decode+encode, {k:2d} subscribers: bridge CPU {out[k]:.3f} core", flush=True)
    return out


async def delays(bridge: BridgeClient, clips, seconds: float) -> dict[str, float]:
    video, _, clip_s = clips
    result: dict[str, float] = {}
    # 0 bridges: aiortc peer to peer, the same endpoints
    sender = ClipSender(video, 90000, 30, clip_s)
    a, r = peer_connection(), Receiver(sender)
    a.addTransceiver(sender.track("video"), direction="sendonly")
    t = r.pc.addTransceiver("video", direction="recvonly")
    tap_receiver(t.receiver, "video", r.on_frame)
    await a.setLocalDescription(await a.createOffer())
    await r.pc.setRemoteDescription(a.localDescription)
    await r.pc.setLocalDescription(await r.pc.createAnswer())
    await a.setRemoteDescription(r.pc.localDescription)
    sender.start()
    await wait_frames([r], 30)
    r.delays.clear()
    await asyncio.sleep(seconds)
    result["0 bridges (peer to peer)"] = statistics.median(r.delays) * 1000
    print(f"  {'0 bridges (peer to peer)':45s} median {result['0 bridges (peer to peer)']:6.1f} ms", flush=True)
    sender.task.cancel()
    await a.close()
    await r.pc.close()
    # 1 bridge, and 3 bridges over 2 real trunks (shulinzhao → dalad → city → dongsheng → hantai)
    for label, opener, pub_site, sub_site, sites in (
        ("1 bridge", "open_flat", "pub", "sub", ["pub", "sub"]),
        ("3 bridges (township→banner→city→banner)", "open_real", "shulinzhao", "hantai", ["city", "shulinzhao", "hantai"]),
    ):
        cid = f"delay-{len(result)}"
        await bridge.call(opener, cid, sites)
        sender = ClipSender(video, 90000, 30, clip_s)
        pub = await publisher(bridge, cid, pub_site, sender, None)
        rec = Receiver(sender)
        await rec.subscribe(bridge, cid, sub_site)
        await bridge.call("apply", cid, {sub_site: (pub_site, (), ())})
        sender.start()
        await wait_frames([rec], 30)
        rec.delays.clear()
        await asyncio.sleep(seconds)
        result[label] = statistics.median(rec.delays) * 1000
        print(f"  {label:45s} median {result[label]:6.1f} ms, p10 {sorted(rec.delays)[len(rec.delays) // 10] * 1000:6.1f} ms, "
              f"p90 {sorted(rec.delays)[len(rec.delays) * 9 // 10] * 1000:6.1f} ms ({len(rec.delays)} frames)", flush=True)
        sender.task.cancel()
        await rec.pc.close()
        await pub.close()
        await bridge.call("close", cid)
    return result


def published(pcs) -> int:  # type: ignore[no-untyped-def]
    """RTP packets the benchmark's publishers have sent (aiortc's sender counter, read by its SRs)."""
    return sum(getattr(t.sender, "_RTCRtpSender__packet_count") for pc in pcs for t in pc.getTransceivers())


async def conference59(bridge: BridgeClient, clips, seconds: float) -> tuple[float, int]:
    from topology import load_inventory

    video, audio, clip_s = clips
    inv = load_inventory(ROOT / "inventory.yaml")
    sites = [s.id for s in inv.sites]
    host, speaker = "city", next(s.id for s in inv.sites if s.tier == "township")
    cid = "c59"
    idle = await cpu_over(bridge, 2.0)
    print(f"  the bridge process idle before this scenario: {idle:.3f} core", flush=True)
    await bridge.call("open_real", cid, sites)
    senders: list[ClipSender] = []
    pubs = []
    for site in (host, speaker):  # the other 57 sites listen (their microphones are not measured here)
        a = ClipSender(audio, 48000, 50, clip_s)
        v = ClipSender(video, 90000, 30, clip_s)
        pubs.append(await publisher(bridge, cid, site, v, a))
        senders += [a, v]
    receivers = []
    views = {}
    for site in sites:
        r = Receiver()
        await r.subscribe(bridge, cid, site, videos=2, audios=2)
        receivers.append(r)
        if site == host:
            views[site] = (speaker, (), (speaker,))
        elif site == speaker:
            views[site] = (host, (), (host,))
        else:
            views[site] = (speaker, (host,), (speaker, host))
    await bridge.call("apply", cid, views)
    for s in senders:
        s.start()
    await wait_frames(receivers, 30, timeout=240)
    await wait_live(bridge, timeout=120)
    await asyncio.sleep(1.0)
    before = sum(r.frames for r in receivers)
    each_before = [r.packets for r in receivers]
    packets_before, sent_before = sum(r.packets for r in receivers), await bridge.call("sent")
    published_before = published(pubs)
    slots_before = {(site, name): n for site, name, _, _, n in await bridge.call("slots")}
    t0 = time.monotonic()
    cpu = await cpu_over(bridge, seconds, "c59")
    rate = (sum(r.frames for r in receivers) - before) / (time.monotonic() - t0)
    sent = await bridge.call("sent") - sent_before
    pub_rate = (published(pubs) - published_before) / seconds
    received = sum(r.packets for r in receivers) - packets_before
    each = sorted((r.packets - b) / seconds for r, b in zip(receivers, each_before))
    snap = await bridge.call("snapshot", cid)
    slots = await bridge.call("slots")
    by_name: dict[str, list[float]] = {}
    for site, name, src, _, n in slots:
        if src is not None:
            by_name.setdefault(name, []).append((n - slots_before.get((site, name), 0)) / seconds)
    print("  packets/s per slot: " + ", ".join(f"{name} min {min(v):.0f} median {statistics.median(v):.0f} max {max(v):.0f}"
                                              for name, v in sorted(by_name.items())), flush=True)
    bound = [s for s in slots if s[2] is not None]
    idle = [f"{site}/{name}" for site, name, _, live, _ in bound if not live]
    print(f"  subscriber slots bound to a source: {len(bound)} of {len(slots)}; not sending: {len(idle)}"
          + (f" ({', '.join(idle[:4])}…)" if idle else ""), flush=True)
    print(f"  publishers into the bridge: {host} {snap['sites'][host]['kbps_in']:.0f} kbit/s, "
          f"{speaker} {snap['sites'][speaker]['kbps_in']:.0f} kbit/s (nominal {sum(len(d) for d, _ in video) * 8 / 1000 / clip_s + 32:.0f})", flush=True)
    print(f"  the publishers sent {pub_rate:.0f} packets/s (video and audio of both)", flush=True)
    print(f"  packets/s per site: min {each[0]:.0f}, median {each[len(each) // 2]:.0f}, max {each[-1]:.0f}", flush=True)
    print(f"  the bridge sent {sent / seconds:.0f} packets/s to the sites, which took {received / seconds:.0f}/s "
          f"({100 * received / max(sent, 1):.0f}%); kernel share of the bridge CPU {100 * SYSTEM_SHARE['c59']:.0f}%; "
          f"the endpoints' process used {GENERATOR_CPU['c59']:.2f} core", flush=True)
    nominal = sum(30 * (1 + len(v[1])) + 50 * len(v[2]) for v in views.values())
    share = rate / nominal
    print(f"  delivered {rate:.0f} frames/s to the {len(sites)} sites = {100 * share:.0f}% of nominal "
          f"({nominal} frames/s); bridge CPU {cpu:.3f} core", flush=True)
    print(f"  bridge CPU per packet sent to a site: {cpu / max(sent / seconds, 1) * 1e6:.1f} µs "
          f"(trunk hops, ingress and RTCP included)", flush=True)
    if share < 0.95:
        print(f"  NOT A MEASUREMENT AT FULL LOAD: only {100 * share:.0f}% of the nominal frames arrived; see the "
              f"per-slot and publisher rates above for where they were lost", flush=True)
    SHARE["c59"] = share
    for s in senders:
        s.task.cancel()
    for r in receivers:
        await r.pc.close()
    for p in pubs:
        await p.close()
    await bridge.call("close", cid)
    return cpu, len(sites)


async def main(args: argparse.Namespace) -> None:
    use_host_addresses(["127.0.0.1"])
    loads = [int(x) for x in args.subscribers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        clips = make_clips(Path(tmp))
    video, audio, clip_s = clips
    kbps = sum(len(d) for d, _ in video) * 8 / 1000 / clip_s
    print(f"wangnet bench/sfu — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()}, "
          f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"clip: VP8 640x360 30 fps {kbps:.0f} kbit/s, Opus 20 ms; bridge in its own process (ConferenceMedia)")
    print(f"load average before the run: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (the machine is shared)\n")
    bridge = BridgeClient()
    if args.delay_only or args.conference_only:
        try:
            await bridge.call("cpu")
            await (delays(bridge, clips, args.seconds) if args.delay_only else conference59(bridge, clips, args.seconds))
        finally:
            await bridge.stop()
        return
    try:
        await bridge.call("cpu")
        print("forwarding (one publisher, N subscribers on one bridge):", flush=True)
        fwd, delivered = await forwarding(bridge, clips, loads, args.seconds)
        k_hi = max(loads)
        # streams actually forwarded, in 0.8 Mbit/s equivalents (a starved endpoint process receives less)
        streams = delivered[k_hi] / 800
        per_stream = max(1e-6, (fwd[k_hi] - fwd[0]) / max(streams, 1e-6))
        streams_per_core = 1 / per_stream
        print(f"  at {k_hi} subscribers the bridge forwarded {delivered[k_hi] / 1000:.1f} Mbit/s "
              f"= {streams:.1f} streams of 0.8 Mbit/s", flush=True)
        print("aiortc relay as designed (decode once, encode per subscriber), same clip:", flush=True)
        dec_loads = [int(x) for x in args.decode_subscribers.split(",")]
        dec = await decode_encode(bridge, clips, dec_loads, args.seconds)
        d_hi = max(dec_loads)
        dec_per_sub = max(1e-6, (dec[d_hi] - dec[0]) / d_hi)
        print("added delay (median, publisher send → subscriber has the whole frame):", flush=True)
        delay = await delays(bridge, clips, args.seconds)
        base = delay["0 bridges (peer to peer)"]
        one = delay["1 bridge"] - base
        three = delay["3 bridges (township→banner→city→banner)"] - base
        print("59-site conference (speaker + host publish audio and video; every site receives speaker + host):", flush=True)
        c59, n_sites = await conference59(bridge, clips, args.seconds)
    finally:
        await bridge.stop()

    print("\nRESULTS")
    print(f"  forwarded 0.8 Mbit/s streams per core : {streams_per_core:7.0f}   "
          f"(target ≥ {TARGET_STREAMS_PER_CORE}; mediasoup publishes ~{MEDIASOUP_CONSUMERS_PER_CORE} consumers/worker core: "
          f"ratio {streams_per_core / MEDIASOUP_CONSUMERS_PER_CORE:.2f})")
    print(f"  pass-through CPU per stream          : {per_stream:.4f} core   (DESIGN.md measured 0.0035)")
    print(f"  aiortc decode+encode per subscriber  : {dec_per_sub:.4f} core   "
          f"→ pass-through is {dec_per_sub / per_stream:.0f}× cheaper per subscriber (DESIGN.md: ~14×)")
    print(f"  added delay, 1 bridge hop            : {one:6.1f} ms   (target < one frame interval = {FRAME_INTERVAL_MS:.1f} ms "
          f"at 30 fps; aiortc's jitter buffer alone adds one frame)")
    print(f"  added delay per hop over 3 bridges   : {three / 3:6.1f} ms")
    print(f"  59-site conference, bridge CPU       : {c59:6.3f} core   (target < 0.5 core; {n_sites} sites; "
          f"{100 * SHARE['c59']:.0f}% of the nominal frames delivered)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", default="10,40", help="pass-through loads to measure (comma-separated)")
    parser.add_argument("--decode-subscribers", default="2,4", help="decode+encode loads to measure")
    parser.add_argument("--seconds", type=float, default=8.0, help="measuring window per load")
    parser.add_argument("--delay-only", action="store_true", help="measure only the added delay per hop")
    parser.add_argument("--conference-only", action="store_true", help="measure only the 59-site conference")
    asyncio.run(main(parser.parse_args()))
