"""Why a file or an episode's metadata was refused: a stable code and its parameters, and the English text.

The code and parameters are what the rest of the system keeps (the job row,
the upload's JSON answer), so that each reader words it in its own language:
the command line, the watch folder's ``.reason.txt`` and the logs use the
English templates here; the web pages translate by code (``web/vod_reasons.py``
holds the same templates marked for gettext, and a test keeps both lists equal).
Templates use ``%(name)s`` placeholders, the form gettext catalogs check.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

ENGLISH: dict[str, str] = {
    # the file itself (probe.py, ffmpeg.py)
    "file.empty": "the file is empty",
    "file.unreadable": "cannot read the file: %(detail)s",
    "file.too_large": "file too large: %(size_mb).1f MB, the limit is %(limit_mb).0f MB",
    "file.text": "not a media file: it contains text, not audio or video",
    "file.not_media": "not a media file: ffprobe recognises no audio or video format in it",
    "file.mp4_index_missing": "the MP4 file is truncated or incomplete: its index (moov atom) is missing; "
                              "upload the complete file",
    "file.damaged": "the file is damaged or not media: ffprobe says “%(detail)s”",
    "probe.unreadable_output": "ffprobe returned unreadable output (%(detail)s)",
    "probe.timeout": "ffprobe needed more than %(seconds)s s to read the file",
    "media.audio_only": "no video stream: the file holds only audio (%(codec)s, %(seconds).1f s)",
    "media.audio_only_no_length": "no video stream: the file holds only audio (%(codec)s)",
    "media.no_streams": "no video stream: ffprobe found no audio or video in the file",
    "media.too_short": "too short: %(seconds).1f s (at least %(minimum).0f s)",
    "media.too_long": "too long: %(hours).1f h (at most %(maximum).0f h)",
    "media.picture_too_small": "picture too small: %(width)s×%(height)s (at least %(minimum)s×%(minimum)s)",
    "media.picture_too_large": "picture too large: %(width)s×%(height)s (at most %(max_width)s×%(max_height)s)",
    # after transcoding (ingest.py)
    "media.truncated": "the file is truncated: its media ends at %(seconds).1f s of the %(announced).1f s it announces",
    "media.truncated_partial": "the file is truncated: ffmpeg read only %(seconds).1f s of %(announced).1f s",
    "transcode.failed": "ffmpeg failed (exit %(exit_code)s): %(detail)s",
    "transcode.no_master": "ffmpeg wrote no master playlist",
    "transcode.no_playlist": "ffmpeg wrote no playlist for %(rung)s",
    "transcode.unfinished_playlist": "the %(rung)s playlist is unfinished",
    "transcode.thumbnail_failed": "thumbnail failed: %(detail)s",
    # receiving an upload (web/vod.py)
    "upload.too_large": "file too large: the limit is %(limit_mb)s MB",
    "upload.interrupted": "upload interrupted: %(detail)s",
    "upload.incomplete": "upload incomplete: %(received)s of %(expected)s bytes",
    # metadata (catalogue.py)
    "meta.programme_missing": "programme: choose a programme",
    "meta.programme_unknown": "programme: unknown programme “%(programme)s” (known: %(known)s)",
    "meta.date_invalid": "date: “%(value)s” is not a date in the form YYYY-MM-DD",
    "meta.title_missing": "title: a title is required",
    "meta.title_too_long": "title: at most %(maximum)s characters",
    "meta.tags_too_long": "tags: at most %(maximum)s characters",
    "episode.not_ready": "episode %(episode)s cannot be published: it is %(state)s, not ready",
}


@dataclass(frozen=True)
class Reason:
    """One refusal: ``code`` is a key of ENGLISH, ``params`` fill its placeholders (plain JSON values)."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in ENGLISH:
            raise KeyError(f"unknown reason code {self.code!r}")

    @property
    def english(self) -> str:
        return ENGLISH[self.code] % self.params

    def __str__(self) -> str:
        return self.english

    def params_json(self) -> str:
        return json.dumps(self.params, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_stored(cls, code: str, params_json: str) -> "Reason | None":
        """The reason a job row keeps, or None for rows without a (known) code."""
        if code not in ENGLISH:
            return None
        try:
            params = json.loads(params_json or "{}")
        except ValueError:
            return None
        return cls(code, params if isinstance(params, dict) else {})


class Refused(Exception):
    """Base of the area's refusals: ``str(exc)`` is the English text, ``exc.reason`` the code and parameters."""

    def __init__(self, code: str, **params: Any) -> None:
        self.reason = Reason(code, params)
        super().__init__(self.reason.english)
