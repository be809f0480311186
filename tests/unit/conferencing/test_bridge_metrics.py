"""The Prometheus view of the bridges reads cached snapshots: names, labels and values."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from conferencing.metrics import ConferenceMetrics

SNAPSHOT = {
    "c7": {
        "participants": 3, "forwarded_streams": 9,
        "sites": {"dalad": {"kbps_in": 812.5, "kbps_out": 1600.0, "keyframe_requests": 4, "packets_lost": 2, "audio_level": 0.25,
                           "video_codec": "H264", "codec_fallbacks": 1}},
        "trunks": {"dalad>city": {"from": "dalad", "to": "city", "kbps": 850.0, "streams": ["dalad", "shulinzhao"]}},
    }
}


def test_metrics_export_participants_bitrates_keyframes_and_loss() -> None:
    registry = CollectorRegistry()
    registry.register(ConferenceMetrics(lambda: SNAPSHOT))
    text = generate_latest(registry).decode()
    assert 'wangnet_conference_participants{conference="c7"} 3.0' in text
    assert 'wangnet_conference_forwarded_streams{conference="c7"} 9.0' in text
    assert 'wangnet_conference_site_kbps{conference="c7",direction="in",site="dalad"} 812.5' in text
    assert 'wangnet_conference_trunk_kbps{conference="c7",from_bridge="dalad",to_bridge="city"} 850.0' in text
    assert 'wangnet_conference_trunk_streams{conference="c7",from_bridge="dalad",to_bridge="city"} 2.0' in text
    assert 'wangnet_conference_keyframe_requests_total{conference="c7",site="dalad"} 4.0' in text
    assert 'wangnet_conference_packets_lost_total{conference="c7",site="dalad"} 2.0' in text
    assert 'wangnet_conference_publisher_codec{codec="H264",conference="c7",site="dalad"} 1.0' in text
    assert 'wangnet_conference_codec_fallbacks_total{conference="c7",site="dalad"} 1.0' in text


def test_no_conference_no_samples() -> None:
    registry = CollectorRegistry()
    registry.register(ConferenceMetrics(dict))
    assert "wangnet_conference_participants{" not in generate_latest(registry).decode()
