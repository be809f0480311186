"""Sending a media file the WSGI server can stream itself: whole, as one byte range, or not at all (304/416).

Flask's ``send_file(conditional=True)`` answers a Range request by wrapping the
file in Werkzeug's ``_RangeWrapper``, a Python iterator of 8 KB chunks: waitress
then copies the range chunk by chunk into its output buffer (spilling past 1 MB
to a temporary file) and gunicorn loses ``sendfile``. Here the file is opened,
positioned at the first byte of the range and handed over as the server's own
``wsgi.file_wrapper`` with ``Content-Length`` set to the range's length; both
waitress (``ReadOnlyFileBasedBuffer.prepare(content_length)``) and gunicorn
(``sendfile`` from the current offset, up to ``Content-Length``) send exactly
that span straight from the file. Without a ``wsgi.file_wrapper`` (Werkzeug's
test client) a bounded generator does the same job slowly.

The decision (304, 200, 206 or 416) is a pure function of the request headers
and the file's size and validators, so it is tested without a server.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from flask import Response, request
from werkzeug.http import http_date, is_resource_modified, parse_range_header

FALLBACK_CHUNK = 256 * 1024


@dataclass(frozen=True)
class Answer:
    """What to send: a status and, for 200/206, the span of the file."""

    status: int
    start: int = 0
    length: int = 0


def etag_for(mtime_ns: int, size: int) -> str:
    """A validator that survives the rename from a work directory to the published one (same bytes, same tag)."""
    return f"{mtime_ns:x}-{size:x}"


def decide(environ: dict, size: int, etag: str, mtime: datetime) -> Answer:
    """304 when the client's copy is current, 206 for one satisfiable range, 416 for a bad one, else 200.

    Multiple ranges are refused with 416, like Werkzeug does (players ask for one).
    ``If-Range`` with a stale validator means "send it all".
    """
    if not is_resource_modified(environ, etag=etag, last_modified=mtime):
        return Answer(304)
    header = environ.get("HTTP_RANGE")
    if not header:
        return Answer(200, 0, size)
    if environ.get("HTTP_IF_RANGE") and is_resource_modified(environ, etag=etag, last_modified=mtime,
                                                            ignore_if_range=False):
        return Answer(200, 0, size)
    parsed = parse_range_header(header)
    span = parsed.range_for_length(size) if parsed is not None else None
    if span is None:
        return Answer(416)
    return Answer(206, span[0], span[1] - span[0])


def send_media(path: Path, mimetype: str, max_age: int) -> Response:
    """The response for one media file; raises OSError (e.g. FileNotFoundError) when it cannot be read."""
    stat = path.stat()
    size = stat.st_size
    etag = etag_for(stat.st_mtime_ns, size)
    modified = datetime.fromtimestamp(int(stat.st_mtime), timezone.utc)  # HTTP dates have whole seconds
    answer = decide(request.environ, size, etag, modified)
    response = Response(status=answer.status, mimetype=mimetype, direct_passthrough=True)
    response.set_etag(etag)
    response.headers["Last-Modified"] = http_date(modified)
    response.headers["Cache-Control"] = f"private, max-age={max_age}"  # access-controlled: never public
    response.headers["Accept-Ranges"] = "bytes"
    if answer.status == 304:
        return response
    if answer.status == 416:
        response.headers["Content-Range"] = f"bytes */{size}"
        response.content_length = 0
        return response
    response.content_length = answer.length
    if answer.status == 206:
        response.headers["Content-Range"] = f"bytes {answer.start}-{answer.start + answer.length - 1}/{size}"
    if request.method == "HEAD":
        return response
    fh = path.open("rb")
    try:
        fh.seek(answer.start)
    except OSError:
        fh.close()
        raise
    wrapper = request.environ.get("wsgi.file_wrapper")
    response.response = wrapper(fh, 1 << 20) if wrapper is not None else _span(fh, answer.length)
    return response


def _span(fh: BinaryIO, length: int) -> Iterator[bytes]:
    try:
        left = length
        while left > 0:
            chunk = fh.read(min(FALLBACK_CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk
    finally:
        fh.close()
