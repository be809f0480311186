"""The serving decision for a media file: 304, 200, 206 with its span, or 416 — from headers alone."""
from datetime import datetime, timezone

import pytest
from werkzeug.http import http_date

from web.media_files import Answer, decide, etag_for

SIZE = 1000
MTIME = datetime(2026, 11, 25, 12, 0, 0, tzinfo=timezone.utc)
ETAG = etag_for(1_700_000_000_123_456_789, SIZE)


def env(**headers: str) -> dict:
    return {"REQUEST_METHOD": "GET", **{f"HTTP_{k.upper()}": v for k, v in headers.items()}}


@pytest.mark.parametrize("headers, answer", [
    ({}, Answer(200, 0, SIZE)),
    ({"if_none_match": f'"{ETAG}"'}, Answer(304)),
    ({"if_none_match": '"other"'}, Answer(200, 0, SIZE)),
    ({"if_modified_since": http_date(MTIME)}, Answer(304)),
    ({"range": "bytes=0-99"}, Answer(206, 0, 100)),
    ({"range": "bytes=990-"}, Answer(206, 990, 10)),
    ({"range": "bytes=-10"}, Answer(206, 990, 10)),
    ({"range": "bytes=500-5000"}, Answer(206, 500, 500)),
    ({"range": f"bytes={SIZE}-"}, Answer(416)),
    ({"range": "bytes=0-1,5-6"}, Answer(416)),
    ({"range": "lines=1-2"}, Answer(416)),
    ({"range": "bytes=0-99", "if_range": f'"{ETAG}"'}, Answer(206, 0, 100)),
    ({"range": "bytes=0-99", "if_range": '"stale"'}, Answer(200, 0, SIZE)),
])
def test_decide(headers, answer):
    assert decide(env(**headers), SIZE, ETAG, MTIME) == answer


def test_etag_depends_on_bytes_not_on_where_the_file_sits():
    assert etag_for(5, 10) == etag_for(5, 10) != etag_for(5, 11) != etag_for(6, 10)
