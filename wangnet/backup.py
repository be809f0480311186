"""Backup and restore: the whole database, config backups included, and the VOD media, in one archive.

The archive is a plain tar file (media segments are already compressed) holding

- ``db/<table>.jsonl`` — every table the models declare, one JSON array per row
  in the column order the manifest lists, values encoded by column type
  (datetimes as UTC ISO strings, binaries as base64);
- ``vod/<path>`` — every file under the VOD directory except the derived
  SQLite search index (rebuilt from the episodes table after a restore);
- ``manifest.json`` — format version, the Alembic revisions the rows belong
  to, and the row count and SHA-256 of every member.

Why not ``pg_dump`` / SQLite's backup API: rows as JSON move between the two
engines (the embedded SQLite demo grows into a PostgreSQL deployment; a
PostgreSQL backup restores into SQLite on a laptop), one format is tested
once, and nothing depends on a client binary matching the server's major
version. Restore refuses an archive whose revisions differ from the code's
(the rows would not fit the tables) and verifies every checksum before it
touches anything; the rows replace the database's in one transaction and the
media directory is swapped in only after that transaction commits.
"""
from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, Iterable, Iterator

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Table, text

from wangnet.store import Base, Store, alembic_config, load_all_models

FORMAT = "wangnet-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DB_DIR = "db"
MEDIA_DIR = "vod"
# Derived from the episodes table (vod/search.py): rebuilt after a restore, never archived.
DERIVED_MEDIA = frozenset({"search.sqlite", "search.sqlite-wal", "search.sqlite-shm", "search.sqlite-journal"})
BATCH_ROWS = 1000
CHUNK = 1 << 20


class BackupError(Exception):
    """The archive or the database is not what a backup or restore needs; the message says what and where."""


@dataclass
class TableEntry:
    columns: list[str]
    rows: int
    sha256: str


@dataclass
class Manifest:
    revisions: list[str]
    created: str
    source_dialect: str
    tables: dict[str, TableEntry] = field(default_factory=dict)
    media: dict[str, str] = field(default_factory=dict)  # relative path → sha256

    def to_json(self) -> str:
        return json.dumps({
            "format": FORMAT, "version": FORMAT_VERSION, "revisions": self.revisions, "created": self.created,
            "source_dialect": self.source_dialect,
            "tables": {name: {"columns": t.columns, "rows": t.rows, "sha256": t.sha256} for name, t in self.tables.items()},
            "media": self.media,
        }, indent=1, sort_keys=True, ensure_ascii=False)

    @classmethod
    def parse(cls, data: bytes) -> "Manifest":
        """Parse and check a manifest; a precise ``BackupError`` for anything malformed."""
        try:
            raw = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BackupError(f"{MANIFEST}: not valid JSON ({exc})") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise BackupError(f"{MANIFEST}: not a wangnet backup (format {raw.get('format') if isinstance(raw, dict) else None!r})")
        if raw.get("version") != FORMAT_VERSION:
            raise BackupError(f"{MANIFEST}: archive format version {raw.get('version')!r}, this wangnet reads {FORMAT_VERSION}")
        try:
            tables = {str(name): TableEntry([str(c) for c in t["columns"]], int(t["rows"]), str(t["sha256"]))
                      for name, t in raw["tables"].items()}
            return cls(revisions=sorted(str(r) for r in raw["revisions"]), created=str(raw["created"]),
                       source_dialect=str(raw["source_dialect"]), tables=tables,
                       media={str(k): str(v) for k, v in raw["media"].items()})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BackupError(f"{MANIFEST}: missing or malformed field ({exc!r})") from None


# --- values: pure encode/decode by column type ------------------------------------------------------


def encode_value(column_type: sa.types.TypeEngine[Any], value: Any) -> Any:
    """A JSON-ready value; datetimes become UTC (naive ones are UTC already: everything is written in UTC)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def decode_value(column_type: sa.types.TypeEngine[Any], value: Any) -> Any:
    """The Python value ``column_type`` takes, from what ``encode_value`` wrote."""
    if value is None:
        return None
    if isinstance(column_type, sa.DateTime):
        parsed = dt.datetime.fromisoformat(value)
        return parsed if column_type.timezone else parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(column_type, sa.Date):
        return dt.date.fromisoformat(value)
    if isinstance(column_type, sa.Time):
        return dt.time.fromisoformat(value)
    if isinstance(column_type, sa.Interval):
        return dt.timedelta(seconds=value)
    if isinstance(column_type, sa.LargeBinary):
        return base64.b64decode(value)
    if isinstance(column_type, sa.Numeric) and not isinstance(column_type, sa.Float) and column_type.asdecimal:
        return decimal.Decimal(value)
    return value


def check_member_name(name: str) -> PurePosixPath:
    """A member path that stays inside the archive's tree (no absolute paths, no ``..``)."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"archive member {name!r}: path leaves the archive")
    return path


# --- the database side ------------------------------------------------------------------------------


def tables_in_order() -> list[Table]:
    """Every model table, parents before children (the order rows are inserted in)."""
    load_all_models()
    return list(Base.metadata.sorted_tables)


def code_revisions(store: Store) -> list[str]:
    """The Alembic heads this code's migrations end at."""
    return sorted(ScriptDirectory.from_config(alembic_config(store.url)).get_heads())


def database_revisions(conn: Connection) -> list[str]:
    if not sa.inspect(conn).has_table("alembic_version"):
        return []
    return sorted(r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version")))


@contextmanager
def _snapshot(store: Store) -> Iterator[Connection]:
    """One read-only transaction, so every table is read at the same instant while services keep writing."""
    if store.engine.dialect.name == "sqlite":
        # pysqlite starts no transaction for SELECTs by itself: begin one explicitly (a WAL read snapshot).
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("BEGIN")
            try:
                yield conn
            finally:
                conn.exec_driver_sql("ROLLBACK")
    else:
        with store.engine.connect().execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True) as conn:
            with conn.begin():
                yield conn


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def media_files(vod_dir: Path) -> list[tuple[str, Path]]:
    """(archive-relative path, file) for every regular file under the VOD directory, derived index excluded."""
    if not vod_dir.is_dir():
        return []
    found = []
    for path in sorted(vod_dir.rglob("*")):
        if path.is_file() and not path.is_symlink() and not (path.parent == vod_dir and path.name in DERIVED_MEDIA):
            found.append((path.relative_to(vod_dir).as_posix(), path))
    return found


@dataclass
class BackupSummary:
    path: Path
    revisions: list[str]
    rows: dict[str, int]
    media_files: int
    media_bytes: int


def write_backup(store: Store, vod_dir: Path, dest: Path) -> BackupSummary:
    """Write an archive of the database and the VOD directory to ``dest`` (atomically: a partial file never stays)."""
    dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tables = tables_in_order()
    heads = code_revisions(store)
    with tempfile.TemporaryDirectory(prefix=".wangnet-backup-", dir=dest.parent) as tmp:
        work = Path(tmp)
        manifest = Manifest(revisions=[], created=dt.datetime.now(dt.timezone.utc).isoformat(),
                            source_dialect=store.engine.dialect.name)
        with _snapshot(store) as conn:
            manifest.revisions = database_revisions(conn)
            if manifest.revisions != heads:
                raise BackupError(f"the database is at revision(s) {', '.join(manifest.revisions) or 'none'}, this wangnet at "
                                  f"{', '.join(heads)}: run `wangnet db upgrade` first")
            for table in tables:
                manifest.tables[table.name] = _dump_table(conn, table, work / f"{table.name}.jsonl")
        files = media_files(vod_dir)
        partial = work / "archive.tar"
        # The archive holds password hashes and SIP HA1s: readable by its owner only.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for table in tables:
                tar.add(work / f"{table.name}.jsonl", arcname=f"{DB_DIR}/{table.name}.jsonl", recursive=False)
            media_bytes = 0
            for rel, path in files:
                info = tar.gettarinfo(str(path), arcname=f"{MEDIA_DIR}/{rel}")
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                digest = hashlib.sha256()
                with open(path, "rb") as fh:
                    tar.addfile(info, _HashingReader(fh, digest))
                manifest.media[rel] = digest.hexdigest()
                media_bytes += info.size
            data = manifest.to_json().encode("utf-8")
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            info.mtime = int(dt.datetime.now().timestamp())
            tar.addfile(info, io.BytesIO(data))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, dest)
    return BackupSummary(dest, manifest.revisions, {n: t.rows for n, t in manifest.tables.items()}, len(files), media_bytes)


class _HashingReader(io.RawIOBase):
    """A file reader that hashes what tarfile copies out of it (one pass over big media files)."""

    def __init__(self, fh: IO[bytes], digest: "hashlib._Hash") -> None:
        self._fh, self._digest = fh, digest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self._digest.update(data)
        return data


def _dump_table(conn: Connection, table: Table, path: Path) -> TableEntry:
    columns = list(table.columns)
    order = list(table.primary_key.columns) or columns
    digest = hashlib.sha256()
    rows = 0
    with open(path, "wb") as out:
        result = conn.execution_options(yield_per=BATCH_ROWS).execute(sa.select(*columns).order_by(*order))
        for row in result:
            line = (json.dumps([encode_value(c.type, v) for c, v in zip(columns, row)], ensure_ascii=False,
                               separators=(",", ":")) + "\n").encode("utf-8")
            digest.update(line)
            out.write(line)
            rows += 1
    return TableEntry([c.name for c in columns], rows, digest.hexdigest())


# --- restore --------------------------------------------------------------------------------------


@dataclass
class RestoreSummary:
    revisions: list[str]
    rows: dict[str, int]
    media_files: int


def read_manifest(tar: tarfile.TarFile, source: Path) -> Manifest:
    try:
        member = tar.getmember(MANIFEST)
    except KeyError:
        raise BackupError(f"{source}: no {MANIFEST} (not a wangnet backup, or cut short while written)") from None
    fh = tar.extractfile(member)
    if fh is None:
        raise BackupError(f"{source}: {MANIFEST} is not a file")
    return Manifest.parse(fh.read())


def _open_archive(source: Path) -> tarfile.TarFile:
    if not source.is_file():
        raise BackupError(f"{source}: no such file")
    try:
        tar = tarfile.open(source, mode="r:")
        tar.getmembers()  # reads every header: a truncated archive fails here, before anything changes
        return tar
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"{source}: not a readable tar archive ({exc})") from None


def _member_stream(tar: tarfile.TarFile, name: str, source: Path) -> IO[bytes]:
    try:
        member = tar.getmember(name)
    except KeyError:
        raise BackupError(f"{source}: {name} is listed in the manifest but missing from the archive") from None
    if not member.isfile():
        raise BackupError(f"{source}: {name} is not a regular file")
    fh = tar.extractfile(member)
    assert fh is not None
    return fh


def verify_archive(tar: tarfile.TarFile, manifest: Manifest, source: Path, staging: Path) -> None:
    """Check every member against the manifest and unpack the media into ``staging``; raises on any mismatch."""
    expected = {f"{DB_DIR}/{name}.jsonl" for name in manifest.tables} | {f"{MEDIA_DIR}/{rel}" for rel in manifest.media}
    for member in tar.getmembers():
        check_member_name(member.name)
        if member.name != MANIFEST and member.name not in expected:
            raise BackupError(f"{source}: unexpected member {member.name!r} (not in the manifest)")
    for name, entry in manifest.tables.items():
        digest = hashlib.sha256()
        with _member_stream(tar, f"{DB_DIR}/{name}.jsonl", source) as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != entry.sha256:
            raise BackupError(f"{source}: {DB_DIR}/{name}.jsonl is corrupt (checksum differs from the manifest)")
    for rel, sha in manifest.media.items():
        target = staging / check_member_name(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with _member_stream(tar, f"{MEDIA_DIR}/{rel}", source) as fh, open(target, "wb") as out:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha:
            raise BackupError(f"{source}: {MEDIA_DIR}/{rel} is corrupt (checksum differs from the manifest)")


def _rows(tar: tarfile.TarFile, table: Table, entry: TableEntry, source: Path) -> Iterator[dict[str, Any]]:
    name = f"{DB_DIR}/{table.name}.jsonl"
    columns = [table.columns[c] for c in entry.columns]
    with _member_stream(tar, name, source) as fh:
        for lineno, line in enumerate(io.TextIOWrapper(fh, encoding="utf-8"), start=1):
            try:
                values = json.loads(line)
                if not isinstance(values, list) or len(values) != len(columns):
                    raise ValueError(f"expected {len(columns)} values")
                yield {c.name: decode_value(c.type, v) for c, v in zip(columns, values)}
            except (ValueError, TypeError, decimal.InvalidOperation) as exc:
                raise BackupError(f"{source}: {name} line {lineno}: {exc}") from None


def _batches(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def _reset_sequences(conn: Connection, tables: list[Table]) -> None:
    """PostgreSQL serial columns continue after the restored ids (SQLite takes max(rowid)+1 by itself)."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and isinstance(pk[0].type, sa.Integer) and pk[0].autoincrement in (True, "auto"):
            seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": pk[0].name}).scalar()
            if seq:
                conn.execute(text(f'SELECT setval(:s, COALESCE((SELECT max("{pk[0].name}") FROM "{table.name}"), 0) + 1, false)'),
                             {"s": seq})


def restore_backup(store: Store, vod_dir: Path, source: Path) -> RestoreSummary:
    """Replace the database's rows and the VOD directory with the archive's; all or nothing.

    Order: verify the whole archive and unpack the media beside ``vod_dir``;
    replace every table's rows in one transaction; only after it commits, swap
    the unpacked media in. A failure before the commit leaves everything as
    it was.
    """
    source = source.resolve()
    with _open_archive(source) as tar:
        manifest = read_manifest(tar, source)
        heads = code_revisions(store)
        if manifest.revisions != heads:
            raise BackupError(f"{source}: archive schema revision(s) {', '.join(manifest.revisions)}, this wangnet's "
                              f"{', '.join(heads)}: restore with the wangnet version that wrote it, then upgrade")
        tables = tables_in_order()
        known = {t.name: t for t in tables}
        if set(manifest.tables) != set(known):
            raise BackupError(f"{source}: tables {sorted(set(manifest.tables) ^ set(known))} differ from this schema's")
        for name, entry in manifest.tables.items():
            if set(entry.columns) != set(known[name].columns.keys()):
                raise BackupError(f"{source}: table {name} has columns {entry.columns}, the schema "
                                  f"{list(known[name].columns.keys())}")
        vod_dir = vod_dir.resolve()
        vod_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{vod_dir.name}.restore-", dir=vod_dir.parent))
        try:
            verify_archive(tar, manifest, source, staging)
            store.upgrade()  # the same revisions: creates the tables in an empty database, else a no-op
            with store.engine.begin() as conn:
                if database_revisions(conn) != heads:
                    raise BackupError(f"the database is at revision(s) {', '.join(database_revisions(conn))}, "
                                      f"not {', '.join(heads)}")
                for table in reversed(tables):
                    conn.execute(table.delete())
                for table in tables:
                    for batch in _batches(_rows(tar, table, manifest.tables[table.name], source)):
                        conn.execute(table.insert(), batch)
                _reset_sequences(conn, tables)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    _swap_in(staging, vod_dir)
    return RestoreSummary(manifest.revisions, {n: t.rows for n, t in manifest.tables.items()}, len(manifest.media))


def _swap_in(staging: Path, vod_dir: Path) -> None:
    """Replace ``vod_dir`` by ``staging`` with renames on the same file system."""
    old = None
    mode = 0o755  # mkdtemp made staging 0700; the media directory is served (nginx reads it)
    if vod_dir.exists():
        mode = vod_dir.stat().st_mode & 0o7777
        old = Path(tempfile.mkdtemp(prefix=f".{vod_dir.name}.old-", dir=vod_dir.parent))
        old.rmdir()
        vod_dir.rename(old)
    staging.rename(vod_dir)
    vod_dir.chmod(mode)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
