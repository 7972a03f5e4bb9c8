"""demo/orders.py: the orders file the API and the worker share."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from demo.orders import DONE, QUEUED, Orders


def test_orders_placed_by_the_api_are_worked_off_by_the_worker_through_the_file(
    tmp_path: Path,
) -> None:
    api, worker = Orders(tmp_path / "orders.sqlite3"), Orders(tmp_path / "orders.sqlite3")
    placed = [api.create(f"item-{i}", i + 1, "primary", 100.0 + i) for i in range(7)]
    assert [o.id for o in api.recent(3)] == [p.id for p in placed[-1:-4:-1]]
    assert worker.count(QUEUED) == 7
    assert worker.work_off(5, now=200.0) == 5
    assert api.count(QUEUED) == 2 and api.count(DONE) == 5
    oldest = sorted(api.recent(10), key=lambda o: o.id)
    assert [o.status for o in oldest] == [DONE] * 5 + [QUEUED] * 2
    assert oldest[0].done_at == 200.0 and oldest[-1].done_at is None


def test_a_file_restored_over_the_old_one_is_read_without_a_restart(tmp_path: Path) -> None:
    import shutil

    path = tmp_path / "orders.sqlite3"
    orders = Orders(path)
    orders.create("before-backup", 1, "primary", 1.0)
    backup = tmp_path / "backup.sqlite3"
    with sqlite3.connect(backup) as copy:
        orders._conn.backup(copy)
    copy.close()
    orders.create("after-backup", 1, "primary", 2.0)
    staged = tmp_path / "staged.sqlite3"
    shutil.copyfile(backup, staged)
    # What restore_from_backup does: the damaged file's WAL aside, the copy over it.
    for suffix in ("-wal", "-shm"):
        os.replace(f"{path}{suffix}", f"{path}.damaged{suffix}")
    os.replace(staged, path)
    assert [o.item for o in orders.recent()] == ["before-backup"]
    orders.create("after-restore", 1, "primary", 3.0)
    assert [o.item for o in Orders(path).recent()] == ["after-restore", "before-backup"]


def test_opening_waits_for_another_process_creating_the_file(tmp_path: Path) -> None:
    # Both demo processes start at once on a fresh file. While the first one's
    # first write is under way the file is not in WAL mode yet, and SQLite
    # refuses the second one's switch to WAL at once (no busy wait: it could
    # deadlock), so "database is locked" once stopped the demo starting.
    path = tmp_path / "orders.sqlite3"
    first = sqlite3.connect(path, isolation_level=None)
    first.execute("BEGIN IMMEDIATE")
    first.execute("CREATE TABLE early (x)")
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        first.execute("COMMIT")  # the first process is done meanwhile

    orders = Orders(path, sleep=sleep)
    assert waits  # it waited rather than failed
    assert orders.create("widget", 1, "primary", 100.0).status == QUEUED
    (mode,) = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


def test_opening_gives_up_on_a_lock_held_past_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE early (x)")
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        Orders(path, busy_timeout=1.0, sleep=sleep, clock=lambda: now[0])
    assert 1.0 <= now[0] < 1.1
