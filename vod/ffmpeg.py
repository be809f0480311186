"""The only place VOD runs ffprobe/ffmpeg: thin wrappers around the pure plans of probe.py and ladder.py."""
from __future__ import annotations

import asyncio
import contextlib
import subprocess
from pathlib import Path
from typing import Callable

from vod.ladder import TranscodePlan, parse_progress_block, progress_fraction, thumbnail_command
from vod.probe import MediaInfo, MediaRejected, check_media, explain_probe_failure, ffprobe_command, parse_probe, sniff
from vod.reasons import Refused

PROBE_TIMEOUT_S = 60


class TranscodeError(Refused, RuntimeError):
    """ffmpeg failed; the reason carries its last words."""


def probe_file(path: Path) -> MediaInfo:
    """Validate a source with ffprobe; raises MediaRejected with the reason for the uploader."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        raise MediaRejected("file.unreadable", detail=exc.strerror or str(exc)) from None
    kind = sniff(head)
    if kind in ("empty", "text"):
        reason = explain_probe_failure("", kind)
        raise MediaRejected(reason.code, **reason.params)
    try:
        done = subprocess.run(ffprobe_command(str(path)), capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise MediaRejected("probe.timeout", seconds=PROBE_TIMEOUT_S) from None
    if done.returncode != 0:
        reason = explain_probe_failure(done.stderr, kind)
        raise MediaRejected(reason.code, **reason.params)
    info = parse_probe(done.stdout, size)
    check_media(info)
    return info


async def run_transcode(
    plan: TranscodePlan,
    duration_s: float,
    on_progress: Callable[[float], None],
    ffmpeg: str = "ffmpeg",
) -> str:
    """Run the ladder; calls ``on_progress`` with 0..1 as ffmpeg reports; returns ffmpeg's warnings.

    Cancelling the task kills ffmpeg, so a stopping service leaves no orphan encoder.
    """
    proc = await asyncio.create_subprocess_exec(
        *plan.command(ffmpeg), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stderr_chunks: list[bytes] = []

    async def drain_stderr() -> None:
        assert proc.stderr is not None
        while chunk := await proc.stderr.read(65536):
            stderr_chunks.append(chunk)
            if sum(map(len, stderr_chunks)) > 1 << 20:  # keep the tail only
                stderr_chunks[:] = stderr_chunks[-4:]

    stderr_task = asyncio.create_task(drain_stderr())
    try:
        assert proc.stdout is not None
        block: list[str] = []
        async for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            block.append(line)
            if line.startswith("progress="):
                fraction = progress_fraction(parse_progress_block(block), duration_s)
                block = []
                if fraction is not None:
                    on_progress(fraction)
        returncode = await proc.wait()
        await stderr_task
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(Exception):
            await asyncio.shield(proc.wait())
        stderr_task.cancel()
        raise
    stderr = b"".join(stderr_chunks).decode("utf-8", "replace")
    if returncode != 0:
        tail = " / ".join(line.strip() for line in stderr.strip().splitlines()[-3:])
        raise TranscodeError("transcode.failed", exit_code=returncode, detail=tail or "no message")
    return stderr


async def make_thumbnail(source: str, target: Path, duration_s: float, ffmpeg: str = "ffmpeg") -> None:
    proc = await asyncio.create_subprocess_exec(
        *thumbnail_command(source, str(target), duration_s, ffmpeg),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await proc.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise
    if proc.returncode != 0 or not target.exists():
        raise TranscodeError("transcode.thumbnail_failed", detail=err.decode("utf-8", "replace").strip()[-300:])
