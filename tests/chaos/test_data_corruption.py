"""Scenario 4, data corruption, on `make up FAST=1`'s stack: garbage over a page of
the demo's orders file → the `orders-data` integrity probe fails →
DataIntegrityCheckFailing{service="demo"} → the `restore-orders` playbook
restores the newest verified state of the orders' Litestream replica (and the
stack's `litestream` program restarts Litestream on the new file) → the probe
passes again. Reports the orders lost and the seconds of writes lost against
the plan's RPO for critical data.

The page garbled is one at rest in the file: in WAL mode a page's newest copy
may be a frame of the -wal file, and SQLite reads that one, so garbage over a
page that also has a frame would be invisible until a checkpoint overwrote it.
The test waits until a page of the file has no frame (Litestream checkpoints
the WAL within a minute), as in any store that has run for a while.

With CHAOS_STACK=running (`make chaos`) the orders garbled are the running
stack's own, so the test leaves them as it found them: restored (by the
playbook, or, should the test fail before it did, by `python -m stack restore`)
and without the damaged copies the restore kept aside.
"""

from __future__ import annotations

import contextlib
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from integration.launcher import RECOVERED
from support.procs import wait_until

from chaos.results import PLAN_RPO_CRITICAL_SECONDS, PLAN_RTO_SECONDS, record
from chaos.stack import REPO, ChaosStack, wait_for_guardrails
from stack.backups.litestream import SYNC_INTERVAL, find_litestream
from stack.backups.sqlite import integrity_problems
from stack.supervisor import Layout

PLAYBOOK = "restore-orders"
PAGE = 4096
# What a restore keeps aside beside the orders file: the playbook's damaged
# copy, `python -m stack restore`'s replaced one, each with its WAL sidecars.
ASIDE = ("orders.sqlite3.damaged-*", "orders.sqlite3.replaced-*")
# The fast profile's goals for this scenario (bench): recovered within 30 s,
# at most a second of writes lost.
GOAL_RECOVERY_SECONDS = 30.0
GOAL_LOST_SECONDS = 1.0
# Litestream ships the WAL every SYNC_INTERVAL; an order is in the replica once
# a sync has begun after it was written, so a replica rebuilt after this many
# intervals must hold it (the rest is slack for a busy machine's scheduler).
REPLICA_SYNCS = 5
pytestmark = pytest.mark.timeout(240)


def orders_file(root: Path) -> Path:
    return Layout(root).orders


def wal_pages(wal: Path) -> set[int]:
    """The pages that have a valid frame in the -wal file (SQLite's WAL format:
    a 32-byte header, then 24-byte frame headers each followed by a page; a
    frame whose salts differ from the header's is left over from before a reset)."""
    data = wal.read_bytes() if wal.exists() else b""
    if len(data) < 32:
        return set()
    size, salts = struct.unpack(">I", data[8:12])[0], data[16:24]
    pages, offset = set(), 32
    while offset + 24 + size <= len(data) and data[offset + 8 : offset + 16] == salts:
        pages.add(struct.unpack(">I", data[offset : offset + 4])[0])
        offset += 24 + size
    return pages


def page_at_rest(path: Path) -> int | None:
    """A page of the file SQLite reads from the file itself (no WAL frame)."""
    count = path.stat().st_size // PAGE
    at_rest = sorted(set(range(1, count + 1)) - wal_pages(Path(f"{path}-wal")))
    return at_rest[0] if at_rest else None


def orders(path: Path) -> dict[int, float]:
    """Order id → when it was placed, read as any reader would."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    with contextlib.closing(db):
        return dict(db.execute("SELECT id, created_at FROM orders").fetchall())


def probe_passes(stack: ChaosStack, probe: str) -> bool:
    samples = stack.samples("probe_exporter", "probe_success")
    return any(dict(labels).get("probe") == probe and value == 1.0
               for labels, value in samples.items())  # fmt: skip


def litestream_starts(stack: ChaosStack) -> int:
    """How often Litestream has opened the orders file, by its log."""
    log = Layout(stack.root).log / "litestream.log"
    return log.read_text().count(f'initialized db" path={orders_file(stack.root)}')


def aside(root: Path) -> set[Path]:
    folder = orders_file(root).parent
    return {p for pattern in ASIDE for p in folder.glob(pattern)}


@dataclass(frozen=True)
class Corruption:
    page: int  # the page garbled
    recovery_seconds: float  # garbled → the run verified and the probe passing
    run: dict[str, Any]  # restore-orders' run
    before: dict[int, float]  # the orders just before, id → placed at
    lost: dict[int, float]  # of those, the ones the restore did not bring back
    lost_seconds: float  # the writes lost: the oldest lost order's age at the corruption
    started: int  # litestream_starts() before the corruption


def corrupt_once(stack: ChaosStack) -> Corruption:
    """Garble a page at rest of the orders file and wait for restore-orders to
    recover it (its guardrails letting a run through first)."""
    path = orders_file(stack.root)
    wait_until(lambda: probe_passes(stack, "orders-data") and len(orders(path)) >= 3, 60,
               "orders placed and the orders-data probe passing")  # fmt: skip
    wait_for_guardrails(stack.root, stack.remediations(PLAYBOOK), PLAYBOOK)
    wait_until(lambda: page_at_rest(path) is not None, 120, "a page of the orders file at rest")
    page = page_at_rest(path)
    assert page is not None
    before, started = orders(path), litestream_starts(stack)
    with open(path, "r+b") as file:  # a failing disk: one page of garbage
        file.seek((page - 1) * PAGE)
        file.write(b"\xff" * PAGE)
    corrupted_at = time.time()
    found: dict[str, Any] = {}

    def recovered() -> bool:
        done = [r for r in stack.remediations(PLAYBOOK, corrupted_at) if r["status"] == RECOVERED]
        if done and probe_passes(stack, "orders-data"):
            found.update(run=done[-1], at=time.time())
        return bool(found)

    wait_until(recovered, 60, f"{PLAYBOOK} to recover the orders")
    after = orders(path)
    lost = {order: placed for order, placed in before.items() if order not in after}
    lost_seconds = corrupted_at - min(lost.values()) if lost else 0.0
    return Corruption(page, found["at"] - corrupted_at, found["run"], before, lost,
                      lost_seconds, started)  # fmt: skip


@dataclass(frozen=True)
class ReplicaCheck:
    lag: float  # the order written → the rebuild that was checked began
    problem: str | None  # how the rebuilt replica differs from the file; None: it does not


def replica_check(stack: ChaosStack, corruption: Corruption, scratch: Path) -> ReplicaCheck:
    """Whether the replica follows the restored file: rebuilt after an order
    written after the restore, it holds that order and every order of the file
    up to it, so a later corruption would restore them.

    The replica is rebuilt (`litestream restore`, into a folder of its own
    under `scratch`) once, REPLICA_SYNCS sync intervals after the order was
    written; a failing rebuild fails here with Litestream's own words. Polling
    rebuilds until one held the order, every failure taken for "not yet", let
    failing rebuilds (an unreadable replica, a reader's -wal and -shm left beside
    the last rebuild) pass for a replica still catching up."""
    path = orders_file(stack.root)
    wait_until(lambda: litestream_starts(stack) > corruption.started, 10,
               "litestream restarted on the restored file")  # fmt: skip
    newest = max(orders(path))
    wait_until(lambda: max(orders(path)) > newest, 30, "an order placed after the restore")
    written = orders(path)
    placed, seen_at = max(written), time.time()
    time.sleep(REPLICA_SYNCS * float(SYNC_INTERVAL.removesuffix("s")))
    replica = Layout(stack.root).var / "backups" / "replica" / "orders"
    rebuilt = Path(tempfile.mkdtemp(dir=scratch)) / "orders.sqlite3"
    lag = time.time() - seen_at
    done = subprocess.run([find_litestream({}), "restore", "-o", str(rebuilt), f"file://{replica}"],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, f"litestream restore: {done.stderr}{done.stdout}"
    if problems := integrity_problems(rebuilt, "the rebuilt replica"):
        return ReplicaCheck(lag, "; ".join(problems))
    held = {order: at for order, at in orders(rebuilt).items() if order <= placed}
    if held == written:
        return ReplicaCheck(lag, None)
    return ReplicaCheck(lag, f"up to order {placed}, only in the file: "
                        f"{sorted(written.keys() - held)}, only in the replica: "
                        f"{sorted(held.keys() - written)}")  # fmt: skip


@pytest.fixture(scope="module")
def orders_stack(chaos_stack: ChaosStack) -> Iterator[ChaosStack]:
    """The stack, and afterwards its orders as they were found: sound (restored
    from the replica here should the test have failed before the playbook did)
    and without the copies the restores kept aside."""
    path, kept = orders_file(chaos_stack.root), aside(chaos_stack.root)
    yield chaos_stack
    if integrity_problems(path, "orders"):
        argv = [sys.executable, "-m", "stack", "restore", f"--root={chaos_stack.root}",
                "--source=orders", "--to-time=latest", "--force"]  # fmt: skip
        subprocess.run(argv, cwd=REPO, check=True, capture_output=True, timeout=120)
    for copy in aside(chaos_stack.root) - kept:
        copy.unlink()


def test_a_corrupted_orders_file_is_restored_from_the_replica(
    orders_stack: ChaosStack, tmp_path: Path
) -> None:
    stack = orders_stack
    corruption = corrupt_once(stack)
    path = orders_file(stack.root)
    [restore] = corruption.run["steps"]
    assert (restore["action"], restore["status"]) == ("restore_from_backup", "succeeded")
    assert f"restored {path} from " in restore["output"], restore["output"]
    assert list(path.parent.glob(ASIDE[0])), "the damaged copy kept aside"
    lost, lost_seconds = corruption.lost, corruption.lost_seconds
    print(f"\ndata corruption: page {corruption.page} garbled; recovered in "
          f"{corruption.recovery_seconds:.1f} s; {len(lost)} of {len(corruption.before)} "
          f"orders lost, {lost_seconds:.2f} s of writes "
          f"(plan RPO {PLAN_RPO_CRITICAL_SECONDS:.0f} s)")  # fmt: skip
    record("data_corruption", corruption.recovery_seconds, PLAN_RTO_SECONDS["critical"],
           data_lost=lost_seconds, rpo_seconds=PLAN_RPO_CRITICAL_SECONDS)  # fmt: skip
    assert lost_seconds <= GOAL_LOST_SECONDS < PLAN_RPO_CRITICAL_SECONDS
    assert corruption.recovery_seconds <= GOAL_RECOVERY_SECONDS
    check = replica_check(stack, corruption, tmp_path)
    assert check.problem is None, f"replica rebuilt {check.lag:.1f} s after: {check.problem}"
    print(f"the orders placed after the restore were in the replica within {check.lag:.1f} s")
