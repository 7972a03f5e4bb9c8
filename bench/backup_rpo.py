"""The recovery point the backups actually give the webhook's SQLite store.

    .venv/bin/python bench/backup_rpo.py [--runs 5] [--restic-interval 5] [--seed 1]

A writer commits a row every 20 ms (its time in the row) to a WAL-mode SQLite
store while `litestream replicate` ships it to a file replica and, in the same
run, `stack backup` (restic) snapshots it every --restic-interval seconds. At a
random moment (seeded) the disaster comes: Litestream is killed with SIGKILL
and the writer and the backups stop. Then the store is rebuilt twice, from the
replica (`litestream restore`) and from restic's newest snapshot, and each is
compared with what was written: rows lost and seconds of writes lost.

restic alone loses on average half an interval plus a run, at worst an interval
plus a run: the table projects that to the stack's default interval and says
the interval restic alone would need for the plan's < 1 min for critical data.
Prints a table and writes JSON under bench/results/. Never part of the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"

from stack.backups import DEFAULT_INTERVAL, litestream, make_backups  # noqa: E402
from stack.backups.restore import Request, restore  # noqa: E402
from stack.backups.sources import sqlite_sources  # noqa: E402

PLAN_RPO_CRITICAL = 60.0
PLAN_RPO_IMPORTANT = 900.0
WRITE_EVERY = 0.02


@dataclass
class Loss:
    method: str
    rows_lost: int
    seconds_lost: float


@dataclass
class RunResult:
    written: int
    losses: list[Loss]
    restic_run_seconds: list[float]


def writer(store: Path, stop: threading.Event, last: dict[str, float]) -> None:
    with contextlib.closing(sqlite3.connect(store)) as db:
        while not stop.is_set():
            now = time.time()
            cursor = db.execute("INSERT INTO writes (at) VALUES (?)", (now,))
            db.commit()
            last["id"], last["at"] = float(cursor.lastrowid or 0), now
            time.sleep(WRITE_EVERY)


def newest_row(store: Path) -> tuple[int, float]:
    with contextlib.closing(sqlite3.connect(store)) as db:
        row = db.execute("SELECT id, at FROM writes ORDER BY id DESC LIMIT 1").fetchone()
    return (int(row[0]), float(row[1])) if row else (0, 0.0)


def make_store(root: Path) -> Path:
    store = root / "var" / "webhook.sqlite3"
    store.parent.mkdir(parents=True)
    with contextlib.closing(sqlite3.connect(store)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE writes (id INTEGER PRIMARY KEY, at REAL NOT NULL)")
        db.commit()
    (root / "alert_webhook").mkdir()
    (root / "alert_webhook" / "webhook.yml").write_text(
        "store: {url: 'sqlite:///var/webhook.sqlite3'}\n"
    )
    return store


def one_run(rng: random.Random, interval: float, env: dict[str, str]) -> RunResult:
    root = Path(tempfile.mkdtemp(prefix="backup-rpo-"))
    store = make_store(root)
    backups = make_backups(root, env)
    assert backups.litestream_bin is not None, "litestream is missing: make setup-test"
    config = litestream.write_config(
        root / "litestream.yml", sqlite_sources(list(backups.sources)), backups.layout.replicas
    )
    argv = litestream.replicate_argv(backups.litestream_bin, config)
    replicator = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop, last = threading.Event(), {"id": 0.0, "at": 0.0}
    runs: list[float] = []

    def back_up() -> None:
        while not stop.wait(interval):
            start = time.monotonic()
            backups.backup()
            runs.append(time.monotonic() - start)

    threads = [
        threading.Thread(target=writer, args=(store, stop, last)),
        threading.Thread(target=back_up),
    ]
    for thread in threads:
        thread.start()
    time.sleep(2 * interval + rng.uniform(0, 2 * interval))
    replicator.send_signal(signal.SIGKILL)  # the disaster: the machine is gone
    stop.set()
    written, written_at = int(last["id"]), last["at"]
    replicator.wait()
    for thread in threads:
        thread.join()
    losses = []
    for method, request in (
        ("litestream", Request(sources=["webhook-store"], to_time="latest")),
        ("restic", Request(snapshot="latest", sources=["webhook-store"])),
    ):
        outcome = restore(backups, request)
        if outcome.exit_code != 0:
            raise SystemExit(f"{method} restore failed: {outcome.problems}")
        rows, at = newest_row(store)
        losses.append(Loss(method, written - rows, round(written_at - at, 3)))
    subprocess.run(["rm", "-rf", str(root)], check=False)
    return RunResult(written, losses, runs)


def table(results: list[RunResult], interval: float) -> str:
    run_seconds = [s for r in results for s in r.restic_run_seconds]
    run = statistics.median(run_seconds)
    lines = [
        f"{'method':<34} {'rows lost med/max':>18} {'s lost med/max':>16} {'plan RPO':>9}",
    ]
    for method, label in (
        ("litestream", "litestream (sync-interval 1s)"),
        ("restic", f"restic alone, every {interval:g} s"),
    ):
        losses = [loss for r in results for loss in r.losses if loss.method == method]
        rows = [loss.rows_lost for loss in losses]
        secs = [loss.seconds_lost for loss in losses]
        lines.append(
            f"{label:<34} {statistics.median(rows):>8.0f} / {max(rows):<7} "
            f"{statistics.median(secs):>7.2f} / {max(secs):<6.2f} {PLAN_RPO_CRITICAL:>8.0f}s"
        )
    worst = DEFAULT_INTERVAL + run
    lines.append(
        f"{'restic alone, every ' + format(DEFAULT_INTERVAL, 'g') + ' s (projected)':<34} "
        f"{'':>18} {DEFAULT_INTERVAL / 2 + run:>7.1f} / {worst:<6.1f} {PLAN_RPO_IMPORTANT:>8.0f}s"
    )
    lines.append(
        f"one `stack backup` run takes {run:.2f} s (median); restic alone meets "
        f"< {PLAN_RPO_CRITICAL:.0f} s at worst with an interval of at most "
        f"{PLAN_RPO_CRITICAL - max(run_seconds):.0f} s"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--restic-interval", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    env = {"PATH": os.environ["PATH"], "ALERTMANAGER_PORT": "1"}
    results = [one_run(rng, args.restic_interval, env) for _ in range(args.runs)]
    print(f"{args.runs} runs, a write every {WRITE_EVERY * 1000:.0f} ms, on {os.cpu_count()} CPUs")
    print(table(results, args.restic_interval))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"backup_rpo-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {
                "runs": [asdict(r) for r in results],
                "restic_interval_seconds": args.restic_interval,
                "default_interval_seconds": DEFAULT_INTERVAL,
                "write_every_seconds": WRITE_EVERY,
                "seed": args.seed,
                "load_average": os.getloadavg(),
            },
            indent=2,
        )
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
