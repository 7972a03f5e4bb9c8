"""`python -m stack backup | restore | verify-backups | backup-schedule | replicate`."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from stack.backups import BackupConfigError, litestream, make_backups
from stack.backups.restic import ResticError
from stack.backups.restore import Request, restore
from stack.backups.run import Backups, Outcome
from stack.backups.schedule import Cadence, loop
from stack.backups.sources import sqlite_sources
from stack.backups.status import Status

# Each command with its one-line help (`python -m stack --help` lists them too).
HELP = (
    ("backup", "one restic snapshot of every source, restored to scratch and checked"),
    ("restore", "the newest copy that verifies (replica or snapshot), in place, and its time"),
    ("verify-backups", "restic check, then each source's newest snapshot restored and checked"),
    ("backup-schedule", "backups every interval, verify daily, restore-test weekly (make up)"),
    ("replicate", "litestream replicate for the SQLite stores (make up runs it)"),
)
COMMANDS = tuple(name for name, _text in HELP)

FORCE_HELP = (
    "replace a store the running stack has open: the webhook keeps writing to the copy "
    "kept aside until it is restarted (python -m stack ctl restart webhook litestream)"
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    for name, text in HELP:
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--root", type=Path, default=Path.cwd(), help="folder that holds var/")
    rest = commands.choices["restore"]
    rest.add_argument("--source", action="append", default=[], help="restore only this source")
    which = rest.add_mutually_exclusive_group()
    which.add_argument(
        "--snapshot",
        help="a snapshot id, or `latest` (newest, even unverified); default: the Litestream "
        "replica (SQLite stores) or the newest verified snapshot, whichever is newer and checks",
    )
    which.add_argument(
        "--to-time", help="restore the Litestream replica as of this RFC 3339 time (or `latest`)"
    )
    rest.add_argument("--force", action="store_true", help=FORCE_HELP)
    commands.choices["verify-backups"].add_argument(
        "--restore-test",
        action="store_true",
        help="the weekly test: read all data in `restic check` and restore the replicas too",
    )
    return top


def report(outcome: Outcome, prefix: str, out: IO[str], err: IO[str]) -> int:
    for line in outcome.lines:
        print(f"{prefix}: {line}", file=out)
    for problem in outcome.problems:
        print(f"{prefix}: {problem}", file=err)
    return outcome.exit_code


def run_task(backups: Backups, task: str) -> Outcome:
    if task == "backup":
        return backups.backup()
    if task == "prune":
        return backups.prune()
    return backups.verify(restore_test=task == "restore-test")


def replicate(backups: Backups) -> int:
    """Write litestream.yml for the SQLite sources and run `litestream replicate`,
    restarted whenever a store is restored (a new file at its path), until SIGTERM."""
    stores = sqlite_sources(list(backups.sources))
    if backups.litestream_bin is None or not stores:
        print("replicate: no SQLite store to replicate, or litestream is missing", file=sys.stderr)
        return 1
    config = litestream.write_config(
        backups.layout.base / litestream.CONFIG, stores, backups.layout.replicas
    )
    argv = litestream.replicate_argv(backups.litestream_bin, config)
    # Not the stack's environment: it holds the webhook's token and supervisord's login.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    stopping = {"signal": 0}

    def on_signal(signum: int, _frame: object) -> None:
        stopping["signal"] = signum

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    by_path = {str(store.path): store for store in stores}

    def replaced(paths: list[str]) -> None:
        for path in paths:
            store = by_path[path]
            replica = litestream.replica_dir(backups.layout.replicas, store)
            moved = litestream.new_lineage(store.path, replica)
            kept = f"; the replica before it is {moved}" if moved else ""
            print(f"replicate: {store.name} was replaced: a new replica{kept}", file=sys.stderr)

    return litestream.follow(
        lambda: subprocess.Popen(argv, env=env),
        lambda: litestream.identities([store.path for store in stores]),
        lambda: bool(stopping["signal"]),
        replaced=replaced,
    )


def main(
    argv: Sequence[str],
    env: Mapping[str, str] = os.environ,
    out: IO[str] = sys.stdout,
    err: IO[str] = sys.stderr,
) -> int:
    args = parser().parse_args(argv)
    prefix = f"stack {args.command}"
    try:
        backups = make_backups(args.root.resolve(), env)
        if args.command == "replicate":
            return replicate(backups)
        if args.command == "backup-schedule":
            cadence = Cadence(backup=backups.interval_seconds)

            def status() -> Status:
                return Status.load(backups.layout.status, backups.interval_seconds)

            def task(name: str) -> int:
                return report(run_task(backups, name), f"{prefix} {name}", out, err)

            loop(status, task, cadence)
            return 0
        if args.command == "restore":
            request = Request(args.snapshot, args.source, args.to_time, args.force)
            return report(restore(backups, request), prefix, out, err)
        task_name = "backup" if args.command == "backup" else "verify"
        if args.command == "verify-backups" and args.restore_test:
            task_name = "restore-test"
        return report(run_task(backups, task_name), prefix, out, err)
    except (BackupConfigError, ResticError) as exc:
        print(f"{prefix}: {exc}", file=err)
        return 2 if isinstance(exc, BackupConfigError) else 1
