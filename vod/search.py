"""Catalogue search in Chinese and English words.

Chinese has no spaces between words, so a word tokenizer finds nothing; the
trigram tokenizer indexes every three-character window, so any substring of
three or more characters (新闻联播 → 新闻联, 闻联播) is an index lookup.

Two implementations behind one small protocol:
- ``Fts5Search`` (SQLite, the embedded default): an FTS5 ``trigram`` table in
  its own file beside the media (``<vod_dir>/search.sqlite``). It is derived
  data, rebuilt from the episodes table when missing, and kept out of the main
  database so the schema the migrations own stays exactly the models.
- ``LikeSearch`` (PostgreSQL): ``ILIKE '%word%'`` over the episode text, which
  PostgreSQL answers from the ``pg_trgm`` GIN index the vod migration creates
  there. It runs unindexed on SQLite too, which is how its tests run here.

Terms shorter than three characters (会议, 旗, TV) cannot use a trigram index;
both implementations then fall back to a substring scan for that term, which
is fine for a catalogue of thousands of episodes. (In SQLite 3.40,
``col LIKE '%会议%'`` on an FTS5 trigram table silently matches nothing; the
scan is forced with ``(col || '') LIKE``.)
"""
from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Protocol

from sqlalchemy import func, or_, select

from wangnet.store import Store

MIN_TRIGRAM = 3
_SPLIT = re.compile(r"[\s,，、。；;:：!！?？()（）\"“”'‘’《》<>\[\]【】/\\|]+")


@dataclass(frozen=True)
class EpisodeText:
    """The searchable words of an episode."""

    episode_id: int
    title: str
    description: str
    tags: str
    programme: str


def query_terms(query: str) -> list[str]:
    """Words of a query: split on spaces and punctuation (Chinese or Latin), lower-cased, de-duplicated."""
    seen: list[str] = []
    for term in _SPLIT.split(query.strip().lower()):
        if term and term not in seen:
            seen.append(term)
    return seen[:8]


def fts_phrase(term: str) -> str:
    """An FTS5 string literal: user text never becomes query syntax."""
    return '"' + term.replace('"', '""') + '"'


def like_pattern(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class Search(Protocol):
    def put(self, doc: EpisodeText) -> None: ...

    def remove(self, episode_id: int) -> None: ...

    def search(self, query: str, limit: int = 50) -> list[int]: ...

    def rebuild(self, docs: Iterable[EpisodeText]) -> None: ...


class Fts5Search:
    """FTS5 trigram index in a file of its own (SQLite deployments)."""

    COLUMNS = ("title", "description", "tags", "programme")

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS episodes USING fts5("
                "title, description, tags, programme, tokenize='trigram')"
            )

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def put(self, doc: EpisodeText) -> None:
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM episodes WHERE rowid = ?", (doc.episode_id,))
            db.execute(
                "INSERT INTO episodes(rowid, title, description, tags, programme) VALUES (?, ?, ?, ?, ?)",
                (doc.episode_id, doc.title, doc.description, doc.tags, doc.programme),
            )

    def remove(self, episode_id: int) -> None:
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM episodes WHERE rowid = ?", (episode_id,))

    def count(self) -> int:
        with closing(self._connect()) as db:
            return int(db.execute("SELECT count(*) FROM episodes").fetchone()[0])

    def rebuild(self, docs: Iterable[EpisodeText]) -> None:
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM episodes")
            db.executemany(
                "INSERT INTO episodes(rowid, title, description, tags, programme) VALUES (?, ?, ?, ?, ?)",
                [(d.episode_id, d.title, d.description, d.tags, d.programme) for d in docs],
            )

    def search(self, query: str, limit: int = 50) -> list[int]:
        terms = query_terms(query)
        if not terms:
            return []
        long_terms = [t for t in terms if len(t) >= MIN_TRIGRAM]
        where: list[str] = []
        args: list[object] = []
        if long_terms:
            where.append("episodes MATCH ?")
            args.append(" AND ".join(fts_phrase(t) for t in long_terms))
        for term in terms:
            if len(term) < MIN_TRIGRAM:
                where.append("(" + " OR ".join(f"lower({c} || '') LIKE ? ESCAPE '\\'" for c in self.COLUMNS) + ")")
                args.extend([like_pattern(term)] * len(self.COLUMNS))
        order = "rank" if long_terms else "rowid DESC"
        sql = f"SELECT rowid FROM episodes WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?"
        with closing(self._connect()) as db:
            return [int(r[0]) for r in db.execute(sql, (*args, limit))]


class LikeSearch:
    """Substring search over the episodes table (PostgreSQL: served by the pg_trgm GIN index)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def put(self, doc: EpisodeText) -> None:  # the table is the index
        return None

    def remove(self, episode_id: int) -> None:
        return None

    def rebuild(self, docs: Iterable[EpisodeText]) -> None:
        return None

    def search(self, query: str, limit: int = 50) -> list[int]:
        from vod.models import Episode, Programme

        terms = query_terms(query)
        if not terms:
            return []
        text = Episode.title + " " + Episode.description + " " + Episode.tags
        stmt = select(Episode.id).join(Programme)
        for term in terms:
            pattern = like_pattern(term)
            stmt = stmt.where(or_(
                func.lower(text).like(pattern, escape="\\"),
                func.lower(Programme.name + " " + Programme.name_en).like(pattern, escape="\\"),
            ))
        stmt = stmt.order_by(Episode.air_date.desc(), Episode.id.desc()).limit(limit)
        with self.store.session() as s:
            return list(s.scalars(stmt))


def search_for(store: Store, vod_dir: Path) -> Search:
    """The search that fits the database: FTS5 beside SQLite, pg_trgm-backed ILIKE on PostgreSQL."""
    if store.engine.dialect.name == "sqlite":
        return Fts5Search(vod_dir / "search.sqlite")
    return LikeSearch(store)
