"""Data integrity: SQLite's own check of every page and index of a database file.

`PRAGMA integrity_check` reads the whole file, so this is for small, critical
stores (the demo's orders), checked on the service interval. The file is opened
read-only and never created: a missing file is a failure, not a new database.
Whatever SQLite finds, or cannot open, is a `data_integrity` failure — except a
file locked past the timeout, which is `timeout` like any other busy database.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

from exporters.categories import Category, ProbeFailure
from exporters.checks.base import Boundaries, CheckBase, Report
from toolkit.sqlite import integrity_check

# How many of SQLite's findings a failure message quotes.
QUOTED = 3


class IntegrityCheck(CheckBase):
    kind: Literal["integrity"]
    sqlite: Path

    def instance(self) -> str:
        return str(self.sqlite)


def sqlite_problems(path: Path, timeout: float) -> list[str]:
    """What `PRAGMA integrity_check` reports for `path` (empty: sound); a file that
    is missing, locked or unreadable is a probe failure."""
    if not path.is_file():
        raise ProbeFailure(Category.DATA_INTEGRITY, f"{path}: no such database file")
    try:
        return integrity_check(path, timeout)
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise ProbeFailure(Category.TIMEOUT, f"{path}: {exc}") from None
        raise ProbeFailure(Category.DATA_INTEGRITY, f"{path}: {exc}") from None
    except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed"
        raise ProbeFailure(Category.DATA_INTEGRITY, f"{path}: {exc}") from None


def run(check: IntegrityCheck, report: Report, ctx: Boundaries) -> None:
    problems = sqlite_problems(check.sqlite, report.remaining())
    report.add("integrity_check_problems", len(problems))
    if problems:
        more = f" (and {len(problems) - QUOTED} more)" if len(problems) > QUOTED else ""
        raise ProbeFailure(
            Category.DATA_INTEGRITY, f"{check.sqlite}: {'; '.join(problems[:QUOTED])}{more}"
        )
