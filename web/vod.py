"""News on demand: catalogue and search, the player, media serving with access checks, upload, statistics.

Every playlist, segment and thumbnail request passes the role gate *and* an
episode check here; nothing under ``vod_dir`` is a static file. Segments are
handed to the WSGI server as its ``wsgi.file_wrapper``, positioned at the requested
range (``web/media_files.py``: Range → 206/416, ETag, If-None-Match → 304) with
private caching headers; master playlists are capped to the viewer's site (a township behind 2 Mbit/s is offered the 240p rung only).
Behind nginx (setting ``vod_accel_redirect``, deploy/nginx/wangnet.conf) the same check ends in
an empty answer with ``X-Accel-Redirect`` and nginx sends the file.
"""
from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass
from pathlib import Path

from flask import (Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from wtforms.validators import ValidationError

from vod import metrics
from vod.catalogue import (PLAYABLE_STATES, CatalogueError, browse, delete_episode, latest_job, media_dirs,
                           parse_meta, programmes, set_published)
from vod.hls import cap_master, is_segment, media_name
from vod.ingest import Ingest
from vod.models import Episode, IngestJob, ViewSession
from vod.paths import MediaPaths
from vod.probe import MediaRejected
from vod.reasons import Reason
from vod.search import Search, search_for
from vod.sites import SiteLocator
from vod.stats import HEARTBEAT_S, heartbeat, per_episode, per_site, resume_at, start_view
from vod.watch import MEDIA_SUFFIXES
from web.media_files import send_media
from web.vod_reasons import job_message, message, refusal
from web.security import NavItem, roles

bp = Blueprint("vod", __name__)

WATCH = ("staff", "admin")
MANAGE = ("admin",)
STATS = ("admin", "noc")
NAV = [
    NavItem("vod.catalogue", _l("News on demand"), frozenset(WATCH)),
    NavItem("vod.stats_page", _l("Viewing statistics"), frozenset(STATS)),
]
UPLOAD_CHUNK = 1 << 20
# The app's policy plus ``media-src blob:``: hls.js feeds the <video> through a MediaSource object URL.
PLAYER_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "media-src 'self' blob:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


@dataclass
class VodWeb:
    """The VOD objects one app shares across requests."""

    paths: MediaPaths
    search: Search
    ingest: Ingest
    locator: SiteLocator


@bp.record_once
def _setup(state) -> None:  # type: ignore[no-untyped-def]
    # The upload streams its body to disk; Flask-WTF's hook would parse it first, so the view checks CSRF itself.
    csrf = state.app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(f"{__name__}.upload")


def vod() -> VodWeb:
    ext = current_app.extensions
    if "vod" not in ext:
        settings = ext["wangnet.settings"]
        store = ext["wangnet.store"]
        paths = MediaPaths(settings.resolved_vod_dir)
        search = search_for(store, paths.root)
        ext["vod"] = VodWeb(paths, search, Ingest(store, paths, search), SiteLocator(ext["wangnet.inventory"]))
        metrics.bind_store(store)
    return ext["vod"]


def store():  # type: ignore[no-untyped-def]
    return current_app.extensions["wangnet.store"]


def is_manager() -> bool:
    return bool(current_user.roles.intersection(MANAGE))


def visible(episode: Episode | None) -> bool:
    """Staff see published, ready episodes; admins also see the rest (to check before publishing)."""
    if episode is None or episode.state not in PLAYABLE_STATES:
        return False
    return episode.published or is_manager()


def viewer_site() -> str | None:
    return vod().locator.site_for(request.remote_addr)


def site_label(site_id: str | None) -> str:
    if site_id is None:
        return _("off-network/local")
    try:
        return vod().locator.inventory.site(site_id).name
    except KeyError:
        return site_id


# ------------------------------------------------------------------ catalogue
@bp.route("/vod")
@roles(*WATCH)
def catalogue():  # type: ignore[no-untyped-def]
    programme = request.args.get("programme") or None
    query = (request.args.get("q") or "").strip()[:100]
    with store().session() as s:
        progs = programmes(s)
        ids = vod().search.search(query, limit=200) if query else None
        episodes = browse(s, programme_id=programme, include_unpublished=is_manager(), ids=ids)
        jobs = {e.id: latest_job(s, e.id) for e in episodes if e.state != "ready"} if is_manager() else {}
    return render_template("vod/catalogue.html", programmes=progs, episodes=episodes, programme=programme,
                           job_message=job_message,
                           query=query, jobs=jobs, manager=is_manager())


@bp.route("/vod/episodes/<int:episode_id>")
@roles(*WATCH)
def episode_page(episode_id: int):  # type: ignore[no-untyped-def]
    with store().session() as s:
        episode = s.get(Episode, episode_id)
        if not visible(episode):
            flash(_("Episode %(id)s is not available.", id=episode_id))
            return redirect(url_for("vod.catalogue"))
        site = viewer_site()
        view = start_view(s, episode.id, current_user.username, request.remote_addr or "", site)
        resume = resume_at(s, current_user.username, episode)
        view_id = view.id
    budget = vod().locator.budget_bps(site)
    response = Response(render_template(
        "vod/episode.html", episode=episode, view_id=view_id, resume=resume, site=site_label(site),
        budget_kbps=budget // 1000 if budget else None, heartbeat_s=HEARTBEAT_S, manager=is_manager()))
    response.headers["Content-Security-Policy"] = PLAYER_CSP
    return response


# ------------------------------------------------------------------ media
@bp.route("/vod/media/<int:episode_id>/<path:name>")
@roles(*WATCH)
def media(episode_id: int, name: str):  # type: ignore[no-untyped-def]
    kind = media_name(name)
    if kind is None:
        metrics.REQUESTS.labels("unknown", "404").inc()
        abort(404)
    mimetype, rung = kind
    with store().session() as s:
        episode = s.get(Episode, episode_id)
        allowed = visible(episode)
        dirs = media_dirs(s, vod().paths, episode) if allowed else []
        growing = allowed and episode.state == "watchable"
    folder = next((d for d in dirs if (d / name).is_file()), dirs[0] if dirs else None)
    if allowed and name == "thumb.jpg" and not (folder / name).is_file():  # made when the job ends
        allowed = False
    if not allowed:
        if name == "thumb.jpg":  # a card whose episode is gone or not yet ready: the placeholder, same for all
            return redirect(url_for("static", filename="img/vod-placeholder.svg"))
        metrics.REQUESTS.labels("segment" if is_segment(name) else "playlist", "404").inc()
        abort(404)
    site = viewer_site()
    if name == "master.m3u8":
        return _master(folder, site)
    accel = current_app.extensions["wangnet.settings"].vod_accel_redirect
    if accel and not growing:  # published files only: a growing episode's files move when the job ends
        return _accel(accel, folder / name)
    try:  # streamed by the server from the file, Range included (web/media_files.py)
        response = send_media(folder / name, mimetype, 3600 if is_segment(name) or name.endswith(".jpg") else 30)
    except OSError:
        metrics.REQUESTS.labels("segment" if is_segment(name) else "playlist", "404").inc()
        abort(404)
    sent = (response.content_length or 0) if response.status_code in (200, 206) else 0
    metrics.BYTES_SERVED.labels(site or "off-network", rung or "-").inc(sent)
    metrics.REQUESTS.labels("segment" if is_segment(name) else "playlist", str(response.status_code)).inc()
    return _growing(response, growing, name)


def _growing(response: Response, growing: bool, name: str) -> Response:
    """A playlist of an episode still being converted grows every few seconds: never cache it."""
    if growing and not is_segment(name):
        response.headers["Cache-Control"] = "private, no-cache"
    return response


def _accel(location: str, path: Path) -> Response:
    """Access is granted: an empty answer that hands the request to nginx's named location, which sends the file.

    The answer names no file and no type: nginx may reuse it for every file of this episode and kind (playlists,
    the rest) for this viewer for a few seconds (deploy/nginx/wangnet.conf); it keeps our cache policy.
    """
    if not path.is_file():
        metrics.REQUESTS.labels("segment" if is_segment(path.name) else "playlist", "404").inc()
        abort(404)
    response = Response(b"")
    del response.headers["Content-Type"]
    response.headers["X-Accel-Redirect"] = location
    response.headers["Cache-Control"] = "private, max-age=30" if path.suffix == ".m3u8" else "private, max-age=3600"
    # nginx keeps a grant for a few seconds and sends the bytes: it counts them (its log), we count grants
    metrics.REQUESTS.labels("segment" if is_segment(path.name) else "playlist", "granted").inc()
    return response


def _master(folder: Path, site: str | None) -> Response:
    try:
        text = (folder / "master.m3u8").read_text(encoding="utf-8")
    except OSError:
        abort(404)
    body = cap_master(text, vod().locator.budget_bps(site)).encode()
    response = Response(body, mimetype="application/vnd.apple.mpegurl")
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    response.headers["Cache-Control"] = "private, no-cache"  # the rungs offered depend on where the viewer sits
    response.make_conditional(request)
    metrics.BYTES_SERVED.labels(site or "off-network", "-").inc(len(body) if response.status_code == 200 else 0)
    metrics.REQUESTS.labels("playlist", str(response.status_code)).inc()
    return response


@bp.route("/vod/views/<int:view_id>", methods=["POST"])
@roles(*WATCH)
def view_heartbeat(view_id: int):  # type: ignore[no-untyped-def]
    """The player's report every few seconds (and a beacon when the page closes): position and time watched.

    A report for a session that is gone (episode deleted, database restored) is
    answered ``recorded: false`` rather than an error: the page cannot act on it.
    """
    data = request.get_json(silent=True) if request.is_json else request.form
    data = data or {}
    try:
        position = _number(data.get("position"))
        watched = _number(data.get("watched")) or 0.0
    except ValueError as exc:
        return jsonify(error=str(exc), status=400), 400
    with store().session() as s:
        view = s.get(ViewSession, view_id)
        if view is None or view.username != current_user.username:
            return jsonify(recorded=False, reason="unknown viewing session")
        episode = s.get(Episode, view.episode_id)
        heartbeat(s, view, position, watched, episode.duration_s if episode else 0.0)
        total = view.watched_s
    return jsonify(recorded=True, watched_s=round(total, 1))


def _number(value: object) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"not a number: {value!r}") from None
    if math.isnan(number) or math.isinf(number) or number < 0:
        raise ValueError(f"out of range: {value!r}")
    return number


# ------------------------------------------------------------------ managing
@bp.route("/vod/upload")
@roles(*MANAGE)
def upload_page():  # type: ignore[no-untyped-def]
    settings = current_app.extensions["wangnet.settings"]
    with store().session() as s:
        progs = programmes(s)
    return render_template("vod/upload.html", programmes=progs, max_mb=settings.vod_max_upload_mb,
                           suffixes=",".join(MEDIA_SUFFIXES))


@bp.route("/vod/upload", methods=["POST"])
@roles(*MANAGE)
def upload():  # type: ignore[no-untyped-def]
    """The file is the request body (the page sends it with XHR), streamed to disk in 1 MB chunks.

    Metadata travel in the query string. Answers JSON: 201 with the job, or
    the reason the file or the metadata was refused.
    """
    raw = request.mimetype == "application/octet-stream"
    token = request.headers.get("X-CSRFToken") or (request.form.get("csrf_token") if not raw else None)
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise CSRFError(str(exc)) from None
    if not raw:
        flash(_("Choose a video file; the page sends it to the server with a progress bar."))
        return redirect(url_for("vod.upload_page"))
    settings = current_app.extensions["wangnet.settings"]
    limit = settings.vod_max_upload_mb * 2**20
    a = request.args
    try:
        meta = parse_meta(a.get("programme", ""), a.get("date", ""), a.get("title", ""), a.get("description", ""),
                          a.get("tags", ""))
    except CatalogueError as exc:
        return jsonify(refusal(exc.reason, 400)), 400
    too_large = Reason("upload.too_large", {"limit_mb": settings.vod_max_upload_mb})
    if request.content_length is not None and request.content_length > limit:
        return jsonify(refusal(too_large, 413)), 413
    suffix = Path(a.get("filename", "")).suffix.lower()
    target = vod().paths.uploads / f"{uuid.uuid4().hex}{suffix if suffix in MEDIA_SUFFIXES else '.bin'}"
    vod().paths.ensure()
    request.max_content_length = limit
    received = 0
    try:
        with target.open("wb") as out:
            stream = request.stream
            while chunk := stream.read(UPLOAD_CHUNK):
                received += len(chunk)
                if received > limit:
                    raise OverflowError
                out.write(chunk)
    except OverflowError:
        target.unlink(missing_ok=True)
        return jsonify(refusal(too_large, 413)), 413
    except OSError as exc:  # the client went away, or the disk is full
        target.unlink(missing_ok=True)
        return jsonify(refusal(Reason("upload.interrupted", {"detail": str(exc)}), 400)), 400
    if request.content_length is not None and received != request.content_length:
        target.unlink(missing_ok=True)
        incomplete = Reason("upload.incomplete", {"received": received, "expected": request.content_length})
        return jsonify(refusal(incomplete, 400)), 400
    try:
        sub = vod().ingest.submit(target, meta, current_user.username, limit, delete_source=True)
    except MediaRejected as exc:
        target.unlink(missing_ok=True)
        return jsonify(refusal(exc.reason, 422)), 422
    except CatalogueError as exc:
        target.unlink(missing_ok=True)
        return jsonify(refusal(exc.reason, 400)), 400
    return jsonify(job=sub.job_id, episode=sub.episode_id, duration_s=round(sub.info.duration_s, 1),
                   width=sub.info.width, height=sub.info.height,
                   status_url=url_for("vod.api_jobs", id=sub.job_id)), 201


@bp.route("/api/v1/vod/jobs")
@roles(*MANAGE)
def api_jobs():  # type: ignore[no-untyped-def]
    """Recent ingest jobs (``?id=`` for one), with progress as ffmpeg reports it."""
    from sqlalchemy import select

    stmt = select(IngestJob).order_by(IngestJob.id.desc()).limit(50)
    wanted = request.args.get("id", type=int)
    if wanted is not None:
        stmt = select(IngestJob).where(IngestJob.id == wanted)
    with store().session() as s:
        rows = [
            {"id": j.id, "episode": j.episode_id, "title": j.episode.title, "state": j.state,
             "progress": round(j.progress, 3), "error": j.error, "error_code": j.error_code,
             "message": job_message(j) if j.state == "failed" else "", "attempts": j.attempts,
             "watchable": j.episode.state in PLAYABLE_STATES,
             "episode_url": url_for("vod.episode_page", episode_id=j.episode_id)}
            for j in s.scalars(stmt)
        ]
    return jsonify(rows)


@bp.route("/vod/episodes/<int:episode_id>/publish", methods=["POST"])
@roles(*MANAGE)
def publish(episode_id: int):  # type: ignore[no-untyped-def]
    return _set_published(episode_id, True)


@bp.route("/vod/episodes/<int:episode_id>/unpublish", methods=["POST"])
@roles(*MANAGE)
def unpublish(episode_id: int):  # type: ignore[no-untyped-def]
    return _set_published(episode_id, False)


def _set_published(episode_id: int, published: bool):  # type: ignore[no-untyped-def]
    from wangnet.accounts import audit

    with store().session() as s:
        episode = s.get(Episode, episode_id)
        if episode is None:
            flash(_("Episode %(id)s does not exist.", id=episode_id))
            return redirect(url_for("vod.catalogue"))
        try:
            set_published(s, episode, published)
        except CatalogueError as exc:
            flash(message(exc.reason))
            return redirect(url_for("vod.catalogue"))
        audit(s, current_user.username, "vod.publish" if published else "vod.unpublish", str(episode_id), episode.title)
        flash(_("Published: %(t)s", t=episode.title) if published else _("Unpublished: %(t)s", t=episode.title))
    return redirect(url_for("vod.catalogue"))


@bp.route("/vod/episodes/<int:episode_id>/delete", methods=["POST"])
@roles(*MANAGE)
def delete(episode_id: int):  # type: ignore[no-untyped-def]
    from wangnet.accounts import audit

    with store().session() as s:
        episode = s.get(Episode, episode_id)
        if episode is None:
            flash(_("Episode %(id)s does not exist.", id=episode_id))
            return redirect(url_for("vod.catalogue"))
        title = episode.title
        delete_episode(s, episode, vod().paths, vod().search)
        audit(s, current_user.username, "vod.delete", str(episode_id), title)
    flash(_("Deleted: %(t)s", t=title))
    return redirect(url_for("vod.catalogue"))


# ------------------------------------------------------------------ statistics
@bp.route("/vod/stats")
@roles(*STATS)
def stats_page():  # type: ignore[no-untyped-def]
    with store().session() as s:
        report = per_site(s, vod().locator.inventory)
        episodes = per_episode(s)
    return render_template("vod/stats.html", report=report, episodes=episodes)


@bp.route("/vod/metrics")
@roles(*STATS)
def metrics_text():  # type: ignore[no-untyped-def]
    vod()  # binds the store the active-viewers gauge reads
    return Response(generate_latest(metrics.REGISTRY), mimetype=CONTENT_TYPE_LATEST.split(";")[0])
