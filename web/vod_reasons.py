"""The VOD area's refusals in the viewer's language: one gettext template per code of ``vod/reasons.py``.

``vod/`` raises and stores a code with parameters and never imports ``web/``;
here each code has its English template marked for translation (exactly the
text of ``vod.reasons.ENGLISH`` — a test keeps the two equal) and the Chinese
lives in the area's catalog ``web/catalogs/vod/zh/LC_MESSAGES/messages.po``.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from vod.models import IngestJob
from vod.reasons import Reason

MESSAGES = {
    "file.empty": _l("the file is empty"),
    "file.unreadable": _l("cannot read the file: %(detail)s"),
    "file.too_large": _l("file too large: %(size_mb).1f MB, the limit is %(limit_mb).0f MB"),
    "file.text": _l("not a media file: it contains text, not audio or video"),
    "file.not_media": _l("not a media file: ffprobe recognises no audio or video format in it"),
    "file.mp4_index_missing": _l("the MP4 file is truncated or incomplete: its index (moov atom) is missing; "
                                 "upload the complete file"),
    "file.damaged": _l("the file is damaged or not media: ffprobe says “%(detail)s”"),
    "probe.unreadable_output": _l("ffprobe returned unreadable output (%(detail)s)"),
    "probe.timeout": _l("ffprobe needed more than %(seconds)s s to read the file"),
    "media.audio_only": _l("no video stream: the file holds only audio (%(codec)s, %(seconds).1f s)"),
    "media.audio_only_no_length": _l("no video stream: the file holds only audio (%(codec)s)"),
    "media.no_streams": _l("no video stream: ffprobe found no audio or video in the file"),
    "media.too_short": _l("too short: %(seconds).1f s (at least %(minimum).0f s)"),
    "media.too_long": _l("too long: %(hours).1f h (at most %(maximum).0f h)"),
    "media.picture_too_small": _l("picture too small: %(width)s×%(height)s (at least %(minimum)s×%(minimum)s)"),
    "media.picture_too_large": _l("picture too large: %(width)s×%(height)s (at most %(max_width)s×%(max_height)s)"),
    "media.truncated": _l("the file is truncated: its media ends at %(seconds).1f s of the %(announced).1f s "
                          "it announces"),
    "media.truncated_partial": _l("the file is truncated: ffmpeg read only %(seconds).1f s of %(announced).1f s"),
    "transcode.failed": _l("ffmpeg failed (exit %(exit_code)s): %(detail)s"),
    "transcode.no_master": _l("ffmpeg wrote no master playlist"),
    "transcode.no_playlist": _l("ffmpeg wrote no playlist for %(rung)s"),
    "transcode.unfinished_playlist": _l("the %(rung)s playlist is unfinished"),
    "transcode.thumbnail_failed": _l("thumbnail failed: %(detail)s"),
    "upload.too_large": _l("file too large: the limit is %(limit_mb)s MB"),
    "upload.interrupted": _l("upload interrupted: %(detail)s"),
    "upload.incomplete": _l("upload incomplete: %(received)s of %(expected)s bytes"),
    "meta.programme_missing": _l("programme: choose a programme"),
    "meta.programme_unknown": _l("programme: unknown programme “%(programme)s” (known: %(known)s)"),
    "meta.date_invalid": _l("date: “%(value)s” is not a date in the form YYYY-MM-DD"),
    "meta.title_missing": _l("title: a title is required"),
    "meta.title_too_long": _l("title: at most %(maximum)s characters"),
    "meta.tags_too_long": _l("tags: at most %(maximum)s characters"),
    "episode.not_ready": _l("episode %(episode)s cannot be published: it is %(state)s, not ready"),
}


def message(reason: Reason) -> str:
    """The reason in the request's language (English when a translation is missing or does not fit)."""
    try:
        return str(MESSAGES[reason.code]) % reason.params
    except (KeyError, TypeError, ValueError):  # a catalog entry with a broken placeholder must not hide the reason
        return reason.english


def job_message(job: IngestJob) -> str:
    """A failed job's reason for the page; jobs stored before reasons had codes keep their English text."""
    reason = job.reason
    return message(reason) if reason is not None else job.error


def refusal(reason: Reason, status: int) -> dict:
    """The JSON body of a refused upload: English ``error`` and the code for programs, ``message`` for people."""
    return {"error": reason.english, "code": reason.code, "params": reason.params, "message": message(reason),
            "status": status}
