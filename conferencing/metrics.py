"""Prometheus view of the conference bridges, read from ConferenceMedia's cached snapshots.

The scrape runs on the exporter's thread while the bridges live on the
runtime loop, so it reads ``ConferenceMedia.latest`` (refreshed on the loop
every second) instead of touching live objects.
"""
from __future__ import annotations

from typing import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector


class ConferenceMetrics(Collector):
    def __init__(self, snapshots: Callable[[], Mapping[str, dict]]) -> None:
        self._snapshots = snapshots

    def collect(self) -> Iterator[object]:
        participants = GaugeMetricFamily("wangnet_conference_participants", "Sites with a publisher or subscriber", labels=["conference"])
        forwarded = GaugeMetricFamily("wangnet_conference_forwarded_streams", "Streams the bridges forward now (subscriber slots and trunk streams)", labels=["conference"])
        site_kbps = GaugeMetricFamily("wangnet_conference_site_kbps", "Media bitrate per site and direction", labels=["conference", "site", "direction"])
        trunk_kbps = GaugeMetricFamily("wangnet_conference_trunk_kbps", "Media bitrate over a bridge-to-bridge trunk", labels=["conference", "from_bridge", "to_bridge"])
        trunk_streams = GaugeMetricFamily("wangnet_conference_trunk_streams", "Source sites whose streams cross a trunk", labels=["conference", "from_bridge", "to_bridge"])
        trunk_up = GaugeMetricFamily("wangnet_conference_trunk_up", "1 while a trunk carries its streams; 0 while a trunk to a bridge in another process is connecting or lost", labels=["conference", "from_bridge", "to_bridge"])
        trunk_losses = CounterMetricFamily("wangnet_conference_trunk_losses", "Times a trunk to a bridge in another process was lost", labels=["conference", "from_bridge", "to_bridge"])
        trunk_keyframes = CounterMetricFamily("wangnet_conference_trunk_keyframe_requests", "Keyframe requests that came back over a trunk, counted at its sending bridge", labels=["conference", "from_bridge", "to_bridge"])
        keyframes = CounterMetricFamily("wangnet_conference_keyframe_requests", "Keyframe requests sent to a site's publisher", labels=["conference", "site"])
        lost = CounterMetricFamily("wangnet_conference_packets_lost", "RTP packets lost from a site's publisher", labels=["conference", "site"])
        level = GaugeMetricFamily("wangnet_conference_audio_level", "Audio level 0..1 of a site's microphone", labels=["conference", "site"])
        codec = GaugeMetricFamily("wangnet_conference_publisher_codec", "1 per publishing site, labelled with the video codec it publishes (forwarded as is)", labels=["conference", "site", "codec"])
        fallbacks = CounterMetricFamily("wangnet_conference_codec_fallbacks", "Times a site's subscriber could not take a source's codec and was given the low tier's VP8 instead", labels=["conference", "site"])
        for cid, snap in sorted(dict(self._snapshots()).items()):
            participants.add_metric([cid], snap["participants"])
            forwarded.add_metric([cid], snap["forwarded_streams"])
            for site, figures in sorted(snap["sites"].items()):
                site_kbps.add_metric([cid, site, "in"], figures["kbps_in"])
                site_kbps.add_metric([cid, site, "out"], figures["kbps_out"])
                keyframes.add_metric([cid, site], figures["keyframe_requests"])
                lost.add_metric([cid, site], figures["packets_lost"])
                level.add_metric([cid, site], figures["audio_level"])
                if figures.get("video_codec"):
                    codec.add_metric([cid, site, figures["video_codec"]], 1.0)
                fallbacks.add_metric([cid, site], figures.get("codec_fallbacks", 0))
            for trunk in snap["trunks"].values():
                trunk_kbps.add_metric([cid, trunk["from"], trunk["to"]], trunk["kbps"])
                trunk_streams.add_metric([cid, trunk["from"], trunk["to"]], len(trunk["streams"]))
                trunk_up.add_metric([cid, trunk["from"], trunk["to"]], 1.0 if trunk.get("state", "up") == "up" else 0.0)
                trunk_losses.add_metric([cid, trunk["from"], trunk["to"]], trunk.get("losses", 0))
                trunk_keyframes.add_metric([cid, trunk["from"], trunk["to"]], trunk.get("keyframe_requests", 0))
        yield from (participants, forwarded, site_kbps, trunk_kbps, trunk_streams, trunk_up, trunk_losses,
                    trunk_keyframes, keyframes, lost, level, codec, fallbacks)
