"""A small stack root in a temp folder, with a webhook store and configs, for the backup tests."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.procs import free_port

from stack.backups import make_backups
from stack.backups.run import Backups


def needs_restic() -> None:
    if not shutil.which("restic"):
        pytest.fail("restic is not installed: run `make setup-test` (scripts/system-deps.sh)")


def make_store(path: Path, rows: int, blob: int = 0) -> None:
    """A WAL-mode SQLite store with `rows` rows (each with `blob` random bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS alerts (id INTEGER PRIMARY KEY, body BLOB)")
        db.executemany(
            "INSERT INTO alerts (body) VALUES (?)", [(os.urandom(blob),) for _ in range(rows)]
        )
        db.commit()


def count_rows(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT count(*) FROM alerts").fetchone()[0])


def make_root(root: Path, rows: int = 50, blob: int = 0) -> Path:
    """var/webhook.sqlite3, the webhook's settings and one rendered config."""
    (root / "alert_webhook").mkdir(parents=True)
    (root / "alert_webhook" / "webhook.yml").write_text(
        "store: {url: 'sqlite:///var/webhook.sqlite3'}\n"
    )
    (root / "alert_webhook" / "playbooks.yml").write_text("playbooks: []\n")
    (root / "var" / "run").mkdir(parents=True)
    (root / "var" / "run" / "prometheus.yml").write_text("global: {}\n")
    (root / "var" / "run" / "webhook-token").write_text("secret-token\n")
    make_store(root / "var" / "webhook.sqlite3", rows, blob)
    return root


def env_for(**extra: str) -> dict[str, str]:
    """Nothing listens on the Alertmanager port: silences are skipped."""
    return {"PATH": os.environ["PATH"], "ALERTMANAGER_PORT": str(free_port()), **extra}


def backups_for(root: Path, **env: str) -> Backups:
    return make_backups(root, env_for(**env))


@contextlib.contextmanager
def stack_lock_held(root: Path) -> Iterator[None]:
    """What a running `make up` holds."""
    path = root / "var" / "run" / "stack.lock"
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
