"""The VOD pages and media routes on the real app: access on every request, MIME types, Range, ETag, caps, stats, upload."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_INVENTORY, TEST_PASSWORD, csrf_token, login
from vod.catalogue import parse_meta
from vod.ingest import Ingest
from vod.models import Episode
from vod.paths import MediaPaths
from vod.search import search_for
from wangnet import accounts
from wangnet.config import load_settings
from wangnet.store import Store

TOWNSHIP_E1 = "10.2.24.77"  # 展旦召苏木 (zhandanzhao), behind a 2 Mbit/s link: 0.5 Mbit/s per viewer
BANNER = "10.2.0.9"  # 达拉特旗 (dalad) on 100 Mbit/s and faster


@pytest.fixture(scope="module")
def env(tmp_path_factory, media):  # type: ignore[no-untyped-def]
    """One app with two transcoded episodes (published and unpublished), shared by this module's tests."""
    from web.app import create_app

    var = tmp_path_factory.mktemp("vod-web")
    settings = load_settings(environ={}, var_dir=var, inventory_path=SAMPLE_INVENTORY, secret_key="k",
                             login_rate_limit="1000 per minute", vod_max_upload_mb=1)
    store = Store.from_settings(settings)
    store.upgrade()
    paths = MediaPaths(settings.resolved_vod_dir)
    ingest = Ingest(store, paths, search_for(store, paths.root))
    meta = parse_meta("nmgxw", "2026-11-20", "内蒙古自治区冬季供暖保障会议", "全区供暖工作 heating", "供暖,winter")
    published = ingest.submit(media["good"], meta, "admin", 10 * 2**20)
    hidden = ingest.submit(media["small"], parse_meta("xwlb", "2026-11-21", "未发布的节目 draft"), "admin",
                           10 * 2**20, publish=False)
    for sub in (published, hidden):
        assert ingest.run_sync(sub.job_id)
    app = create_app(settings, store=store)
    app.config["TESTING"] = True
    users = {}
    with store.session() as s:
        for role in ("staff", "admin", "noc"):
            accounts.create_user(s, f"vod-{role}", TEST_PASSWORD, [role])
            users[role] = f"vod-{role}"
    yield {"app": app, "store": store, "ingest": ingest, "episode": published.episode_id,
           "hidden": hidden.episode_id, "paths": paths, "users": users}
    store.dispose()


def client_as(env, role: str | None, address: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    client = env["app"].test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if role:
        assert login(client, env["users"][role]).status_code == 302
    return client


def media_url(env, name: str, episode: int | None = None) -> str:  # type: ignore[no-untyped-def]
    return f"/vod/media/{episode or env['episode']}/{name}"


# ------------------------------------------------------------------ catalogue and search
def test_staff_browse_newest_first_and_unpublished_hidden(env):
    staff = client_as(env, "staff")
    page = staff.get("/vod").get_data(as_text=True)
    assert "内蒙古自治区冬季供暖保障会议" in page
    assert "<h1>新闻点播</h1>" in page  # zh-CN is the default locale
    assert "<h1>News on demand</h1>" in staff.get("/vod?lang=en").get_data(as_text=True)
    assert "未发布的节目" not in page
    admin_page = client_as(env, "admin").get("/vod").get_data(as_text=True)
    assert admin_page.index("未发布的节目") < admin_page.index("内蒙古自治区冬季供暖保障会议")  # 21st before 20th
    assert "内蒙古自治区" not in staff.get("/vod?programme=xwlb").get_data(as_text=True)


@pytest.mark.parametrize("query", ["自治区", "供暖", "冬季供暖 会议", "WINTER", "heating", "内蒙古新闻", "Inner Mongolia"])
def test_search_finds_episode_by_chinese_and_english_words(env, query):
    page = client_as(env, "staff").get("/vod", query_string={"q": query}).get_data(as_text=True)
    assert "内蒙古自治区冬季供暖保障会议" in page, query


@pytest.mark.parametrize("query", ["联播新闻", "夏季", "draft", "未发布"])
def test_search_misses_are_empty_and_never_leak_unpublished(env, query):
    page = client_as(env, "staff").get("/vod", query_string={"q": query}).get_data(as_text=True)
    assert 'data-episode="' not in page


# ------------------------------------------------------------------ media serving
def test_master_playlist_type_and_caching(env):
    resp = client_as(env, "staff").get(media_url(env, "master.m3u8"))
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.apple.mpegurl"
    assert resp.headers["Cache-Control"] == "private, no-cache"
    assert resp.headers["ETag"]
    body = resp.get_data(as_text=True)
    assert "360p/index.m3u8" in body and "240p/index.m3u8" in body


def test_master_playlist_is_capped_for_a_township_behind_2_mbit(env):
    township = client_as(env, "staff", TOWNSHIP_E1).get(media_url(env, "master.m3u8")).get_data(as_text=True)
    banner = client_as(env, "staff", BANNER).get(media_url(env, "master.m3u8")).get_data(as_text=True)
    assert "240p/index.m3u8" in township and "360p/index.m3u8" not in township
    assert "360p/index.m3u8" in banner and "240p/index.m3u8" in banner
    bandwidths = [int(b) for b in re.findall(r"BANDWIDTH=(\d+)", township)]
    assert bandwidths and max(bandwidths) <= 500_000


def test_segment_type_range_etag(env):
    client = client_as(env, "staff")
    name = "240p/seg_00000.m4s"
    data = (env["paths"].episode(env["episode"]) / name).read_bytes()
    full = client.get(media_url(env, name))
    assert full.status_code == 200 and full.mimetype == "video/iso.segment"
    assert full.get_data() == data
    assert full.headers["Accept-Ranges"] == "bytes"
    assert "private" in full.headers["Cache-Control"] and "max-age=3600" in full.headers["Cache-Control"]
    etag = full.headers["ETag"]
    part = client.get(media_url(env, name), headers={"Range": "bytes=188-1127"})
    assert part.status_code == 206
    assert part.get_data() == data[188:1128]
    assert part.headers["Content-Range"] == f"bytes 188-1127/{len(data)}"
    init = client.get(media_url(env, "240p/" + re.search(r'URI="([^"]+)"', client.get(media_url(env, "240p/index.m3u8")).get_data(as_text=True)).group(1)))
    assert init.status_code == 200 and init.mimetype == "video/mp4" and init.data[4:8] == b"ftyp"
    tail = client.get(media_url(env, name), headers={"Range": "bytes=-188"})
    assert tail.status_code == 206 and tail.get_data() == data[-188:]
    beyond = client.get(media_url(env, name), headers={"Range": f"bytes={len(data) + 10}-"})
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(data)}"
    assert client.get(media_url(env, name), headers={"If-None-Match": etag}).status_code == 304
    media_playlist = client.get(media_url(env, "240p/index.m3u8"))
    assert media_playlist.mimetype == "application/vnd.apple.mpegurl" and b"#EXT-X-ENDLIST" in media_playlist.data
    thumb = client.get(media_url(env, "thumb.jpg"))
    assert thumb.mimetype == "image/jpeg" and thumb.data[:2] == b"\xff\xd8"


@pytest.mark.parametrize("name", ["master.m3u8", "240p/index.m3u8", "240p/seg_00000.m4s"])
def test_anonymous_and_unauthorised_are_refused_every_media_request(env, name):
    anonymous = client_as(env, None).get(media_url(env, name))
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert client_as(env, "noc").get(media_url(env, name)).status_code == 403
    # staff may not fetch an unpublished episode's media; its admin may
    assert client_as(env, "staff").get(media_url(env, name, env["hidden"])).status_code == 404
    assert client_as(env, "admin").get(media_url(env, name, env["hidden"])).status_code == 200


@pytest.mark.parametrize("name", ["../../wangnet.db", "240p/../../1/master.m3u8", "search.sqlite", "240p/seg_1.m4s",
                                  "720p/seg_00000.m4s", "240p/seg_00000.mp4"])
def test_names_outside_the_ladder_are_not_found(env, name):
    assert client_as(env, "staff").get(media_url(env, name)).status_code == 404


# ------------------------------------------------------------------ player, resume, statistics
def test_player_page_resume_heartbeat_and_site_statistics(env):
    staff = client_as(env, "staff", TOWNSHIP_E1)
    page = staff.get(f"/vod/episodes/{env['episode']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "media-src 'self' blob:" in page.headers["Content-Security-Policy"]
    assert "vendor/hls.min.js" in html and 'data-resume="0.0"' in html
    assert "展旦召苏木" in html
    beat = re.search(r'data-heartbeat="([^"]+)"', html).group(1)
    token = csrf_token(html)
    ok = staff.post(beat, data={"position": "2.0", "watched": "5", "csrf_token": token})
    # a claim of 5 s right after the page loaded is credited only the time that passed (+2 s slack)
    assert ok.get_json()["recorded"] is True and 2.0 <= ok.get_json()["watched_s"] <= 5.0
    assert staff.post(beat, data={"position": "x", "csrf_token": token}).status_code == 400
    # someone else's session is not theirs to write
    other = client_as(env, "admin")
    other_token = csrf_token(other.get("/vod").get_data(as_text=True))
    assert other.post(beat, data={"watched": "5", "csrf_token": other_token}).get_json()["recorded"] is False
    again = staff.get(f"/vod/episodes/{env['episode']}").get_data(as_text=True)
    assert 'data-resume="2.0"' in again

    staff.get(media_url(env, "240p/seg_00000.m4s"))
    noc = client_as(env, "noc")
    stats = noc.get("/vod/stats").get_data(as_text=True)
    row = re.search(r'<tr class="tier-township" data-site="zhandanzhao"><td>([^<]+)</td><td>(\d+)</td>', stats)
    assert row and int(row.group(2)) >= 2, stats[:2000]
    assert "内蒙古自治区冬季供暖保障会议" in stats
    metrics = noc.get("/vod/metrics").get_data(as_text=True)
    served = re.search(r'wangnet_vod_bytes_served_total\{rendition="240p",site="zhandanzhao"\} ([0-9.e+]+)', metrics)
    assert served and float(served.group(1)) > 0
    assert re.search(r'wangnet_vod_active_viewers\{site="zhandanzhao"\} [1-9]', metrics)
    assert client_as(env, "staff").get("/vod/stats").status_code == 403


def test_missing_episode_page_redirects_to_catalogue(env):
    resp = client_as(env, "staff").get("/vod/episodes/99999")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/vod")
    staff_hidden = client_as(env, "staff").get(f"/vod/episodes/{env['hidden']}")
    assert staff_hidden.status_code == 302


# ------------------------------------------------------------------ upload and managing
def _upload(client, path: Path, token: str | None, **meta: str):  # type: ignore[no-untyped-def]
    query = {"programme": "ordosxw", "date": "2026-11-23", "title": "鄂尔多斯新闻 上传测试", "filename": path.name, **meta}
    headers = {"X-CSRFToken": token} if token else {}
    return client.post("/vod/upload", query_string=query, data=path.read_bytes(),
                       content_type="application/octet-stream", headers=headers)


def test_upload_streams_to_disk_and_job_reports_progress(env, media):
    admin = client_as(env, "admin")
    token = csrf_token(admin.get("/vod/upload").get_data(as_text=True))
    resp = _upload(admin, media["good"], token)
    assert resp.status_code == 201, resp.get_json()
    job = resp.get_json()["job"]
    assert admin.get(resp.get_json()["status_url"]).get_json()[0]["state"] == "queued"
    ingest: Ingest = env["ingest"]
    assert ingest.claim_next() == job
    assert asyncio.run(ingest.run(job))
    row = admin.get(f"/api/v1/vod/jobs?id={job}").get_json()[0]
    assert (row["state"], row["progress"], row["error"]) == ("done", 1.0, "")
    assert list(env["paths"].uploads.iterdir()) == []  # the uploaded source is removed once published
    assert "鄂尔多斯新闻 上传测试" in client_as(env, "staff").get("/vod?q=上传测试").get_data(as_text=True)


@pytest.mark.parametrize("name, status, code, error, chinese", [
    ("text", 422, "file.text", "not a media file: it contains text, not audio or video",
     "不是媒体文件：其内容是文本，而不是音频或视频"),
    ("audio", 422, "media.audio_only", "no video stream: the file holds only audio (aac, 3.0 s)",
     "没有视频流：文件只包含音频（aac，3.0 秒）"),
    ("truncated", 422, "file.mp4_index_missing",
     "the MP4 file is truncated or incomplete: its index (moov atom) is missing; upload the complete file",
     "MP4 文件被截断或不完整：缺少索引（moov atom）；请上传完整的文件"),
])
def test_upload_of_bad_files_shows_the_reason(env, media, name, status, code, error, chinese):
    admin = client_as(env, "admin")
    token = csrf_token(admin.get("/vod/upload").get_data(as_text=True))
    before = env["store"]
    resp = _upload(admin, media[name], token)
    body = resp.get_json()
    # English and the code for programs; the page shows ``message``, in the page's language (zh-CN here)
    assert (resp.status_code, body["code"], body["error"], body["message"]) == (status, code, error, chinese)
    admin.get("/vod/upload?lang=en")
    assert _upload(admin, media[name], token).get_json()["message"] == error
    assert list(env["paths"].uploads.iterdir()) == []
    with before.session() as s:
        assert s.query(Episode).filter(Episode.title == "鄂尔多斯新闻 上传测试", Episode.state != "ready").count() == 0


def test_upload_limits_csrf_and_metadata(env, tmp_path):
    admin = client_as(env, "admin")
    token = csrf_token(admin.get("/vod/upload").get_data(as_text=True))
    big = tmp_path / "huge.mp4"
    big.write_bytes(b"\0" * (1024 * 1024 + 1))  # the module's limit is 1 MB
    resp = _upload(admin, big, token)
    assert (resp.status_code, resp.get_json()["error"]) == (413, "file too large: the limit is 1 MB")
    assert resp.get_json()["message"] == "文件过大：上限为 1 MB"
    small = tmp_path / "x.mp4"
    small.write_bytes(b"\0" * 10)
    assert _upload(admin, small, None).status_code == 400  # no CSRF token
    bad_date = _upload(admin, small, token, date="yesterday")
    assert bad_date.get_json()["error"] == "date: “yesterday” is not a date in the form YYYY-MM-DD"
    assert bad_date.get_json()["message"] == "日期：“yesterday”不是 YYYY-MM-DD 格式的日期"
    assert client_as(env, "staff").post("/vod/upload", data=b"x", content_type="application/octet-stream").status_code in (400, 403)
    assert list(env["paths"].uploads.iterdir()) == []


def test_admin_publishes_unpublishes_and_deletes(env, media):
    admin = client_as(env, "admin")
    staff = client_as(env, "staff")
    token = csrf_token(admin.get("/vod").get_data(as_text=True))
    hidden = env["hidden"]
    assert admin.post(f"/vod/episodes/{hidden}/publish", data={"csrf_token": token}).status_code == 302
    assert staff.get(media_url(env, "master.m3u8", hidden)).status_code == 200
    assert admin.post(f"/vod/episodes/{hidden}/unpublish", data={"csrf_token": token}).status_code == 302
    assert staff.get(media_url(env, "master.m3u8", hidden)).status_code == 404
    assert staff.post(f"/vod/episodes/{hidden}/delete", data={"csrf_token": csrf_token(staff.get('/vod').get_data(as_text=True))}).status_code == 403
    assert admin.post(f"/vod/episodes/{hidden}/delete", data={"csrf_token": token}).status_code == 302
    assert not env["paths"].episode(hidden).exists()
    assert admin.get(media_url(env, "master.m3u8", hidden)).status_code == 404
    assert "未发布的节目" not in admin.get("/vod").get_data(as_text=True)
