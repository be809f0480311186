"""Refusals as codes with parameters: English text for the CLI, stored on the job, read back for translation."""
import json

import pytest

from vod.catalogue import CatalogueError, parse_meta
from vod.probe import MediaRejected, check_size
from vod.reasons import ENGLISH, Reason


def test_every_template_renders_with_its_own_placeholders():
    import re

    for code, template in ENGLISH.items():
        names = set(re.findall(r"%\((\w+)\)", template))
        assert template % {n: 1 for n in names}, code


def test_unknown_code_is_a_programming_error():
    with pytest.raises(KeyError, match="unknown reason code 'file.nope'"):
        Reason("file.nope")


def test_size_refusal_carries_code_and_numbers():
    with pytest.raises(MediaRejected) as exc:
        check_size(3 * 2**30, 2 * 2**30)
    assert exc.value.reason == Reason("file.too_large", {"size_mb": 3072.0, "limit_mb": 2048.0})
    assert str(exc.value) == "file too large: 3072.0 MB, the limit is 2048 MB"


def test_metadata_refusal_names_the_field():
    with pytest.raises(CatalogueError) as exc:
        parse_meta("xwlb", "24/11/2026", "t")
    assert exc.value.reason.code == "meta.date_invalid"
    assert str(exc.value) == "date: “24/11/2026” is not a date in the form YYYY-MM-DD"


def test_stored_round_trip_and_old_rows():
    reason = Reason("media.truncated", {"seconds": 12.0, "announced": 20.0})
    stored = reason.params_json()
    assert json.loads(stored) == {"announced": 20.0, "seconds": 12.0}
    assert Reason.from_stored("media.truncated", stored) == reason
    assert Reason.from_stored("", "{}") is None  # a job failed before codes existed: shown in English
    assert Reason.from_stored("media.truncated", "not json") is None
