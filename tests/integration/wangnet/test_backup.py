"""`wangnet backup` / `wangnet restore` round trips between SQLite and a real PostgreSQL, and refusals."""
from __future__ import annotations

import datetime as dt
import io
import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from collectors.models import ConfigVersion
from tests.integration.wangnet.db_engines import new_store, snapshot
from telephony.models import Phone
from vod.catalogue import create_episode, parse_meta, programmes
from vod.models import Episode
from vod.search import search_for
from wangnet import accounts
from wangnet.cli import main
from wangnet.store import Store

UTC = dt.timezone.utc


def populate(store: Store, vod_dir: Path, tag: str) -> None:
    """A little of everything: a user, config backups, an episode with media, a phone."""
    with store.session() as s:
        accounts.create_user(s, f"user-{tag}", "long enough password", ["noc", "staff"], display_name=f"张伟 {tag}")
        for version in (1, 2):
            s.add(ConfigVersion(device=f"dlt-core-{tag}", version=version, digest=f"{version:064d}",
                                text=f"hostname dlt-core\ninterface ge-0/0/{version}\n", diff="" if version == 1 else "+x\n",
                                taken_at=dt.datetime(2026, 11, 25, 3, version, 7, 123456, tzinfo=UTC)))
        programme = programmes(s)[0].id
        episode = create_episode(s, parse_meta(programme, "2026-11-24", f"鄂尔多斯新闻 {tag} 会议", "草原 新闻", "会议,旗"),
                                 created_by=f"user-{tag}")
        episode.state, episode.published, episode.duration_s = "ready", True, 12.5
        s.add(Phone(extension=f"8{len(tag):03d}", display_name="东胜区 电话", site_id="dongsheng", realm="wangnet.ordos",
                    ha1_md5="0" * 32, ha1_sha256="1" * 64, enabled=False,
                    last_registered_at=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)))
        s.flush()
        episode_id = episode.id
    media = vod_dir / "episodes" / str(episode_id)
    media.mkdir(parents=True)
    (media / "master.m3u8").write_text(f"#EXTM3U\n# {tag}\n", encoding="utf-8")
    (media / "seg_000.ts").write_bytes(bytes(range(256)) * 100 + tag.encode())


def cli(store: Store, var_dir: Path, *args: str):  # type: ignore[no-untyped-def]
    env = {"WANGNET_VAR_DIR": str(var_dir), "WANGNET_DATABASE_URL": store.url}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def media_tree(vod_dir: Path) -> dict[str, bytes]:
    return {p.relative_to(vod_dir).as_posix(): p.read_bytes() for p in sorted(vod_dir.rglob("*"))
            if p.is_file() and not p.name.startswith("search.sqlite")}


@pytest.mark.parametrize("source_kind,target_kind", [("sqlite", "postgres"), ("postgres", "sqlite")])
def test_round_trip_between_engines(source_kind: str, target_kind: str, tmp_path: Path,
                                    request: pytest.FixtureRequest) -> None:
    src_var, dst_var = tmp_path / "src", tmp_path / "dst"
    source = new_store(source_kind, tmp_path, request, "source")
    target = new_store(target_kind, tmp_path, request, "target")
    try:
        source.upgrade()
        populate(source, src_var / "vod", "orig")
        target.upgrade()
        populate(target, dst_var / "vod", "other")  # restore replaces, it does not merge
        archive = tmp_path / "wangnet.tar"

        result = cli(source, src_var, "backup", str(archive))
        assert result.exit_code == 0, result.output
        assert "backup written" in result.output and "2 media files" in result.output
        assert archive.stat().st_mode & 0o077 == 0, "the archive holds password hashes: owner-only"

        result = cli(target, dst_var, "restore", "--yes", str(archive))
        assert result.exit_code == 0, result.output

        assert snapshot(target) == snapshot(source)
        assert media_tree(dst_var / "vod") == media_tree(src_var / "vod")
        with target.session() as s:
            assert accounts.authenticate(s, "user-orig", "long enough password") is not None
            assert accounts.authenticate(s, "user-other", "long enough password") is None
            texts = [c.text for c in s.scalars(select(ConfigVersion).order_by(ConfigVersion.version))]
            assert texts == ["hostname dlt-core\ninterface ge-0/0/1\n", "hostname dlt-core\ninterface ge-0/0/2\n"]
            # new rows after a restore get fresh ids (PostgreSQL sequences follow the restored rows)
            s.add(ConfigVersion(device="dlt-core-orig", version=3, digest="3" * 64, text="x"))
            s.flush()
            episode_id = s.scalars(select(Episode.id)).one()
        # the derived search index answers for the restored catalogue
        assert search_for(target, dst_var / "vod").search("鄂尔多斯新闻 orig") == [episode_id]
    finally:
        source.dispose()
        target.dispose()


def _rewrite(archive: Path, out: Path, change) -> None:  # type: ignore[no-untyped-def]
    """Copy ``archive`` to ``out`` passing every member's (info, bytes) through ``change``."""
    with tarfile.open(archive) as src, tarfile.open(out, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            info, data = change(member, data)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_restore_refuses_corrupt_or_mismatched_archives_and_changes_nothing(kind: str, tmp_path: Path,
                                                                           request: pytest.FixtureRequest) -> None:
    store = new_store(kind, tmp_path, request)
    var = tmp_path / "var"
    try:
        store.upgrade()
        populate(store, var / "vod", "orig")
        archive = tmp_path / "good.tar"
        assert cli(store, var, "backup", str(archive)).exit_code == 0
        with store.session() as s:  # the database moves on after the backup
            accounts.create_user(s, "after-backup", "long enough password", ["staff"])
        before_rows, before_media = snapshot(store), media_tree(var / "vod")

        def flip_config_byte(info, data):  # type: ignore[no-untyped-def]
            if info.name == "db/config_versions.jsonl":
                data = data.replace(b"ge-0/0/2", b"ge-0/0/9")
            return info, data

        def other_revision(info, data):  # type: ignore[no-untyped-def]
            if info.name == "manifest.json":
                manifest = json.loads(data)
                manifest["revisions"] = sorted(manifest["revisions"][1:] + ["0099_from_the_future"])
                data = json.dumps(manifest).encode()
            return info, data

        def corrupt_media(info, data):  # type: ignore[no-untyped-def]
            if info.name.endswith("seg_000.ts"):
                data = data[:-1] + b"?"
            return info, data

        cases = {
            "config_versions.jsonl is corrupt": flip_config_byte,
            "0099_from_the_future": other_revision,
            "seg_000.ts is corrupt": corrupt_media,
        }
        for expected, change in cases.items():
            bad = tmp_path / f"bad-{change.__name__}.tar"
            _rewrite(archive, bad, change)
            result = cli(store, var, "restore", "--yes", str(bad))
            assert result.exit_code != 0 and "restore refused, nothing changed" in result.output, result.output
            assert expected in result.output, result.output
        truncated = tmp_path / "truncated.tar"
        truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
        result = cli(store, var, "restore", "--yes", str(truncated))
        assert result.exit_code != 0 and "truncated.tar" in result.output, result.output
        not_tar = tmp_path / "notes.tar"
        not_tar.write_text("会议纪要\n", encoding="utf-8")
        result = cli(store, var, "restore", "--yes", str(not_tar))
        assert result.exit_code != 0 and "not a readable tar archive" in result.output, result.output

        assert snapshot(store) == before_rows
        assert media_tree(var / "vod") == before_media
        assert not [p for p in var.iterdir() if p.name.startswith(".vod.")], "no staging left behind"
    finally:
        store.dispose()


def test_backup_refuses_a_database_behind_the_code(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        store.upgrade("0001_accounts")
        result = cli(store, tmp_path / "var", "backup", str(tmp_path / "x.tar"))
        assert result.exit_code != 0 and "run `wangnet db upgrade` first" in result.output, result.output
        assert not (tmp_path / "x.tar").exists()
    finally:
        store.dispose()
