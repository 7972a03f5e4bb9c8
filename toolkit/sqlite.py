"""SQLite's own integrity check and online backup, on a database opened read-only.

The probe exporter's integrity check, the webhook's restore action and the
stack's backups each check a database and copy one; they differ only in what
a problem means to them (a probe failure, a backup skipped, a restore refused),
so each turns what these return or raise into its own report.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

# sqlite3.connect's own default: how long a locked database is waited for.
BUSY_TIMEOUT = 5.0


def _readonly(path: str | Path, timeout: float = BUSY_TIMEOUT) -> sqlite3.Connection:
    # mode=ro: never creates the file, never writes to it.
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)


def integrity_check(path: str | Path, timeout: float = BUSY_TIMEOUT) -> list[str]:
    """What `PRAGMA integrity_check` finds in the database at `path`: empty when it
    is sound, else SQLite's lines. The file is opened read-only and closed after;
    sqlite3.DatabaseError (OperationalError when locked past `timeout` seconds)
    when it cannot be opened or read as a database."""
    with contextlib.closing(_readonly(path, timeout)) as db:
        rows = db.execute("PRAGMA integrity_check").fetchall()
    found = [str(row[0]) for row in rows]
    return [] if found == ["ok"] else found


def online_backup(source: str | Path, copy: str | Path) -> None:
    """A consistent copy of `source` at `copy`, page by page with SQLite's online
    backup API: whole even while others write to `source` (WAL included), which a
    copy of the file cannot promise. sqlite3.Error when it fails."""
    with (
        contextlib.closing(_readonly(source)) as src,
        contextlib.closing(sqlite3.connect(copy)) as dst,
    ):
        src.backup(dst)
