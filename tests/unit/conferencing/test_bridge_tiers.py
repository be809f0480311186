"""The low tier: one decode + one encode per source at a bridge, shared by all its low subscribers."""
from __future__ import annotations

import asyncio

import pytest

import conferencing.transcode as transcode
from conferencing.bridge import Bridge
from tests.unit.conferencing.test_passthrough import _publish, _subscribe, _wait

pytestmark = pytest.mark.timeout(120)


def test_low_subscribers_share_one_transcode(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[transcode.TierEncoder] = []
    real = transcode.TierEncoder

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(transcode, "TierEncoder", counting)

    async def scenario() -> None:
        bridge = Bridge("c1", "dalad")
        bridge.low_kbps = 100
        pub_pc, _ = await _publish(bridge, "dalad")
        got = {name: {"video": [], "audio": []} for name in ("low1", "low2", "high")}
        pcs = []
        try:
            for name in got:
                pc, res = await _subscribe(bridge, name, got[name])
                bridge.show(res, main="dalad", thumbs=(), audio=(), low=name.startswith("low"))
                pcs.append(pc)
            await _wait(lambda: all(len(g["video"]) >= 10 for g in got.values()), "low and high pictures")
            assert len(made) == 1, "one transcode for the tier, not one per low subscriber"
            assert made[0].frames_in >= 10
            low1 = {f.data for f in got["low1"]["video"]}
            low2 = {f.data for f in got["low2"]["video"]}
            high = {f.data for f in got["high"]["video"]}
            assert low1 & low2, "both low subscribers receive the very same encoded frames"
            assert not (low1 & high), "the high subscriber receives the publisher's own frames"
            assert got["low1"]["video"][0].keyframe
            # when nobody watches the low tier any more, its codec work stops
            for res in list(bridge.resources.values()):
                if res.role == "subscriber":
                    bridge.show(res, main="dalad", thumbs=(), audio=(), low=False)
            assert bridge.transcoders == {}
        finally:
            for pc in pcs:
                await pc.close()
            await pub_pc.close()
            await bridge.close()

    asyncio.run(scenario())
