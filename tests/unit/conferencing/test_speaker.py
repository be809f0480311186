"""Active-speaker detection: follows who talks, never flaps."""
from __future__ import annotations

import pytest

from conferencing.speaker import SpeakerDetector


def feed(det: SpeakerDetector, levels: dict[str, float], start: float, seconds: float, step: float = 0.1,
         exclude: tuple[str, ...] = ()) -> list[str | None]:
    out = []
    for i in range(int(round(seconds / step))):
        out.append(det.update(levels, start + i * step, exclude))
    return out


def test_silence_has_no_speaker() -> None:
    det = SpeakerDetector()
    assert feed(det, {"a": 0.0, "b": 0.01}, 0, 3) == [None] * 30


def test_first_voice_becomes_speaker_and_stays_through_pauses() -> None:
    det = SpeakerDetector()
    got = feed(det, {"a": 0.5, "b": 0.0}, 0, 1)
    assert got[-1] == "a"
    assert set(feed(det, {"a": 0.0, "b": 0.0}, 1, 5)) == {"a"}  # a pause keeps the picture


def test_switch_needs_a_sustained_louder_voice() -> None:
    det = SpeakerDetector(switch_after=1.0)
    feed(det, {"a": 0.4, "b": 0.0}, 0, 2)
    # a short burst from b (0.3 s) does not take over
    assert set(feed(det, {"a": 0.4, "b": 0.9}, 2, 0.3)) == {"a"}
    assert set(feed(det, {"a": 0.4, "b": 0.0}, 2.3, 1)) == {"a"}
    # b speaking clearly louder for long enough does
    got = feed(det, {"a": 0.05, "b": 0.6}, 3.3, 2)
    assert got[0] == "a" and got[-1] == "b"
    first_b = got.index("b")
    assert all(s == "b" for s in got[first_b:])
    assert first_b * 0.1 >= 1.0 - 1e-9


def test_two_equal_voices_do_not_flap() -> None:
    det = SpeakerDetector()
    feed(det, {"a": 0.5}, 0, 1)
    # alternating loudness within the margin, for a minute
    history = []
    t = 1.0
    for i in range(600):
        levels = {"a": 0.5, "b": 0.6} if i % 4 < 2 else {"a": 0.6, "b": 0.5}
        history.append(det.update(levels, t))
        t += 0.1
    assert set(history) == {"a"}


def test_excluded_site_loses_the_floor_at_once() -> None:
    det = SpeakerDetector()
    feed(det, {"a": 0.5, "b": 0.2}, 0, 2)
    assert det.speaker == "a"
    assert det.update({"a": 0.5, "b": 0.2}, 2.0, exclude=("a",)) == "b"
    det.forget("b")
    assert det.speaker is None


def test_bad_levels_are_ignored() -> None:
    det = SpeakerDetector()
    assert feed(det, {"a": float("nan"), "b": -3.0, "c": "loud"}, 0, 1) == [None] * 10  # type: ignore[dict-item]
    assert feed(det, {"a": 7.0}, 1, 0.5)[-1] == "a"  # clamped to 1


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="threshold in"):
        SpeakerDetector(threshold=0)
