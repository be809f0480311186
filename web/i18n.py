"""Locale choice: zh-CN first, English on request, remembered in the session.

Babel parses ``zh_CN`` as ``zh_Hans_CN`` and gettext then looks for catalogs
``zh_Hans_CN`` and ``zh``; the Chinese catalog therefore lives in ``zh/``.
"""
from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import current_app, request, session

LOCALES = {"zh_CN": "中文", "en": "English"}
# One catalog directory per area (web/catalogs/<area>/zh/LC_MESSAGES/messages.po):
# areas translate their own pages without editing a shared file; Flask-Babel
# merges the catalogs of every directory.
I18N_DIR = Path(__file__).resolve().parent / "catalogs"


def translation_directories(root: Path = I18N_DIR) -> list[str]:
    return sorted(str(d) for d in root.iterdir() if d.is_dir())


def select_locale() -> str:
    """Session choice, then ``?lang=``, then the configured default (zh_CN)."""
    wanted = request.args.get("lang")
    if wanted in LOCALES:
        session["lang"] = wanted
    chosen = session.get("lang")
    if chosen in LOCALES:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def compile_catalogs(root: Path = I18N_DIR) -> list[Path]:
    """Compile every ``messages.po`` whose ``.mo`` is missing or older.

    ``make setup`` compiles too; doing it here as well means a checkout whose
    catalogs were edited never serves stale translations.
    """
    written: list[Path] = []
    for po_path in root.glob("*/*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=po_path.parent.parent.name)
        try:
            with mo_path.open("wb") as fh:
                write_mo(fh, catalog)
        except OSError:  # read-only install: the packaged .mo is what we have
            continue
        written.append(mo_path)
    return written
