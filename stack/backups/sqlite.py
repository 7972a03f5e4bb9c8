"""An SQLite store: staged with SQLite's online backup API, checked with integrity_check.

The online backup copies a consistent state of a database that others keep
writing (WAL included), which a file copy of the live file cannot promise.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from stack.backups.source import Context, SourceFailed, SourceSkipped, install, put_aside
from toolkit.sqlite import integrity_check, online_backup

SQLITE_HEADER = b"SQLite format 3\x00"
# The files SQLite keeps beside a database in WAL mode: they belong to the
# database they were written for and move aside with it.
SIDECARS = ("-wal", "-shm")


def integrity_problems(path: Path, label: str) -> list[str]:
    """Why `path` is not a sound SQLite database (empty when it is)."""
    with path.open("rb") as handle:
        if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            return [f"{label}: {path.name} is not an SQLite database"]
    try:
        rows = integrity_check(path)
    except sqlite3.DatabaseError as exc:
        return [f"{label}: {path.name} fails to open as SQLite: {exc}"]
    return [f"{label}: {path.name} integrity_check: {'; '.join(rows)}"] if rows else []


@dataclass(frozen=True)
class SqliteSource:
    name: str
    path: Path
    live_while_running: bool = True

    @property
    def filename(self) -> str:
        return self.path.name

    def stage(self, folder: Path, ctx: Context) -> None:
        if not self.path.is_file():
            raise SourceSkipped(f"{self.name}: no database at {self.path} yet")
        if problems := integrity_problems(self.path, self.name):
            # Backing up a damaged store would push the last good one out of retention.
            raise SourceFailed("; ".join(problems))
        try:
            online_backup(self.path, folder / self.filename)
        except sqlite3.Error as exc:
            raise SourceFailed(f"{self.name}: online backup of {self.path} failed: {exc}") from None

    def check(self, folder: Path) -> list[str]:
        copy = folder / self.filename
        if not copy.is_file():
            return [f"{self.name}: {self.filename} is not in the snapshot"]
        return integrity_problems(copy, self.name)

    def restore(self, folder: Path, ctx: Context) -> list[str]:
        stamp = ctx.stamp()
        done = []
        # The database first, then its sidecars: the aside copy opens with its own WAL.
        aside = put_aside(self.path, stamp)
        if aside is not None:
            done.append(f"kept {self.path} aside as {aside}")
        for suffix in SIDECARS:
            sidecar = self.path.with_name(self.path.name + suffix)
            if sidecar.exists():
                sidecar.rename(self.path.with_name(f"{self.path.name}.replaced-{stamp}{suffix}"))
        install(folder / self.filename, self.path)
        done.append(f"restored {self.path}")
        return done
