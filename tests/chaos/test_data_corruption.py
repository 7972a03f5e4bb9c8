"""Scenario 4, data corruption, on `make up FAST=1`'s stack: garbage over a page of
the demo's orders file → the `orders-data` integrity probe fails →
DataIntegrityCheckFailing{service="demo"} → the `restore-orders` playbook
restores the newest verified state of the orders' Litestream replica (and the
stack's `litestream` program restarts Litestream on the new file) → the probe
passes again. Reports the orders lost and the
seconds of writes lost against the plan's RPO for critical data.

The page garbled is one at rest in the file: in WAL mode a page's newest copy
may be a frame of the -wal file, and SQLite reads that one, so garbage over a
page that also has a frame would be invisible until a checkpoint overwrote it.
The test waits until a page of the file has no frame (Litestream checkpoints
the WAL within a minute), as in any store that has run for a while.
"""

from __future__ import annotations

import contextlib
import sqlite3
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from integration.launcher import RECOVERED, Launched, launched
from prometheus_client.parser import text_string_to_metric_families
from support.procs import wait_until

from chaos.results import PLAN_RPO_CRITICAL_SECONDS, PLAN_RTO_SECONDS, record
from stack.backups.litestream import find_litestream

TOKEN = "chaos-data-token"
PAGE = 4096
# The fast profile's goals for this scenario (bench): recovered within 30 s,
# at most a second of writes lost.
GOAL_RECOVERY_SECONDS = 30.0
GOAL_LOST_SECONDS = 1.0
pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    root = tmp_path_factory.mktemp("corruption")
    with launched(root, TOKEN, ["--fast"]) as running:
        yield running


def orders_file(stack: Launched) -> Path:
    return stack.root / "var" / "data" / "demo" / "orders.sqlite3"


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


def probe_passes(stack: Launched, probe: str) -> bool:
    text = requests.get(stack.url("probe_exporter", "/metrics"), timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "probe_success" and sample.labels.get("probe") == probe:
                return sample.value == 1.0
    return False


def restore_runs(stack: Launched, since: float) -> list[dict[str, Any]]:
    return [r for r in stack.remediations()
            if r["playbook"] == "restore-orders" and r["planned_at"] >= since]  # fmt: skip


def replicated(stack: Launched, scratch: Path) -> dict[int, float]:
    """The orders as the replica holds them now (rebuilt into `scratch`)."""
    replica = stack.root / "var" / "backups" / "replica" / "orders"
    scratch.unlink(missing_ok=True)
    subprocess.run([find_litestream({}), "restore", "-o", str(scratch), f"file://{replica}"],
                   check=True, capture_output=True, timeout=30)  # fmt: skip
    return orders(scratch)


def test_a_corrupted_orders_file_is_restored_from_the_replica(stack: Launched, tmp_path) -> None:
    path = orders_file(stack)
    wait_until(lambda: probe_passes(stack, "orders-data") and len(orders(path)) >= 3, 60,
               "orders placed and the orders-data probe passing")  # fmt: skip
    wait_until(lambda: page_at_rest(path) is not None, 120, "a page of the orders file at rest")
    page = page_at_rest(path)
    assert page is not None
    before = orders(path)
    log = stack.root / "var" / "log" / "litestream.log"
    started = log.read_text().count(f'initialized db" path={path}')
    with open(path, "r+b") as file:  # a failing disk: one page of garbage
        file.seek((page - 1) * PAGE)
        file.write(b"\xff" * PAGE)
    corrupted_at = time.time()

    def recovered() -> dict[str, Any] | None:
        done = [r for r in restore_runs(stack, corrupted_at) if r["status"] == RECOVERED]
        return done[0] if done and probe_passes(stack, "orders-data") else None

    wait_until(lambda: recovered() is not None, 60, "restore-orders to recover the orders")
    recovery_seconds = time.time() - corrupted_at
    run = recovered()
    assert run is not None
    [restore] = run["steps"]
    assert (restore["action"], restore["status"]) == ("restore_from_backup", "succeeded")
    assert f"restored {path} from " in restore["output"], restore["output"]
    assert list(path.parent.glob("orders.sqlite3.damaged-*")), "the damaged copy kept aside"

    after = orders(path)
    lost = {order: placed for order, placed in before.items() if order not in after}
    lost_seconds = corrupted_at - min(lost.values()) if lost else 0.0
    print(f"\ndata corruption: page {page} garbled; recovered in {recovery_seconds:.1f} s; "
          f"{len(lost)} of {len(before)} orders lost, {lost_seconds:.2f} s of writes "
          f"(plan RPO {PLAN_RPO_CRITICAL_SECONDS:.0f} s)")  # fmt: skip
    record("data_corruption", recovery_seconds, PLAN_RTO_SECONDS["critical"],
           data_lost=lost_seconds, rpo_seconds=PLAN_RPO_CRITICAL_SECONDS)  # fmt: skip
    assert lost_seconds <= GOAL_LOST_SECONDS < PLAN_RPO_CRITICAL_SECONDS
    assert recovery_seconds <= GOAL_RECOVERY_SECONDS

    # The restored file is the one replicated now (`stack replicate` restarted
    # Litestream on it): orders placed after the restore reach the replica, so a
    # later corruption would restore them too.
    wait_until(lambda: log.read_text().count(f'initialized db" path={path}') > started, 10,
               "litestream restarted on the restored file")  # fmt: skip
    newest = max(after)
    wait_until(lambda: max(orders(path)) > newest, 30, "an order placed after the restore")
    placed = max(orders(path))
    wait_until(lambda: placed in replicated(stack, tmp_path / "replica.sqlite3"), 30,
               "the order placed after the restore in the replica")  # fmt: skip
