"""`python -m stack restore`: a snapshot (or the Litestream replica) back in place.

The chosen copy is restored to scratch and checked first (manifest sizes and
SHA-256, SQLite's integrity_check, JSON and YAML parse); only a copy that
passes replaces anything, and what it replaces is kept aside.
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stack.backups import litestream
from stack.backups.run import Backups, Outcome
from stack.backups.source import (
    RestoreRefused,
    Source,
    SourceFailed,
    SourceSkipped,
    check_manifest,
)
from stack.backups.sqlite import SqliteSource


def stack_running(lock_path: Path) -> bool:
    """Whether a `make up` holds var/run/stack.lock (it does for the life of a run)."""
    if not lock_path.is_file():
        return False
    with open(lock_path) as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
    return False


@dataclass(frozen=True)
class Request:
    # A snapshot id, "latest" (the newest, verified or not), or None: the newest verified.
    snapshot: str | None = None
    sources: Sequence[str] = ()
    # RFC 3339 time (or "latest") to restore the Litestream replica to, instead of a snapshot.
    to_time: str | None = None
    force: bool = False


def refuse_live(backups: Backups, chosen: Sequence[Source], force: bool) -> None:
    live = [s.name for s in chosen if s.live_while_running]
    if live and not force and stack_running(backups.layout.stack_lock):
        raise RestoreRefused(
            f"the stack is running and uses {', '.join(live)}: stop it (Ctrl-C on `make up`) "
            "and run this again, or pass --force to replace it under the running stack "
            "(then restart what reads it: python -m stack ctl restart webhook litestream)"
        )


def pick_snapshot(backups: Backups, name: str, wanted: str | None, verified: list[str]) -> str:
    newest = backups.newest(name)
    if newest is None:
        raise RestoreRefused(f"no snapshot of {name} in {backups.layout.repository}")
    if wanted is None:
        found = backups.newest(name, verified=verified)
        if found is None:
            raise RestoreRefused(
                f"no verified snapshot of {name} (run `python -m stack verify-backups`, "
                "or pass --snapshot latest to take the newest one unverified)"
            )
        return found.id
    if wanted == "latest":
        return newest.id
    for snap in backups.restic.snapshots(tag=name):
        if snap.id.startswith(wanted) and name in snap.tags:
            return snap.id
    raise RestoreRefused(f"snapshot {wanted} does not exist or does not hold {name}")


def from_snapshot(backups: Backups, source: Source, snapshot: str, outcome: Outcome) -> None:
    scratch = backups.layout.scratch
    backups.restic.restore(snapshot, scratch, include=[backups.layout.staging / source.name])
    folder = scratch / (backups.layout.staging / source.name).relative_to("/")
    if not folder.is_dir():
        raise RestoreRefused(f"snapshot {snapshot[:8]} holds nothing for {source.name}")
    problems = check_manifest(folder, source.name) or source.check(folder)
    if problems:
        raise RestoreRefused(f"snapshot {snapshot[:8]} not restored: " + "; ".join(problems))
    outcome.lines += source.restore(folder, backups.ctx)
    outcome.lines.append(f"{source.name}: restored from snapshot {snapshot[:8]} and checked")


def from_replica(backups: Backups, source: Source, to_time: str, outcome: Outcome) -> None:
    if not isinstance(source, SqliteSource):
        raise RestoreRefused(f"{source.name} has no Litestream replica (only SQLite stores do)")
    if backups.litestream_bin is None:
        raise RestoreRefused("litestream is not installed")
    folder = backups.layout.scratch
    timestamp = None if to_time == "latest" else to_time
    try:
        litestream.restore(
            backups.litestream_bin,
            backups.layout.replicas,
            source,
            folder / source.filename,
            timestamp,
        )
    except litestream.LitestreamError as exc:
        raise RestoreRefused(str(exc)) from None
    if problems := source.check(folder):
        raise RestoreRefused("replica not restored: " + "; ".join(problems))
    outcome.lines += source.restore(folder, backups.ctx)
    outcome.lines.append(f"{source.name}: restored from its Litestream replica as of {to_time}")


def everything(backups: Backups, request: Request, outcome: Outcome) -> list[Source]:
    """No source named: each that has something to restore from (a note for the rest)."""
    chosen = []
    for source in backups.sources:
        if request.to_time is not None and not isinstance(source, SqliteSource):
            continue
        if request.to_time is None and backups.newest(source.name) is None:
            outcome.lines.append(f"skipped {source.name}: no snapshot holds it")
            continue
        chosen.append(source)
    return chosen


def restore(backups: Backups, request: Request) -> Outcome:
    outcome = Outcome()
    try:
        chosen = [backups.source(n) for n in request.sources] or everything(
            backups, request, outcome
        )
        refuse_live(backups, chosen, request.force)
        with backups.locked() as status:
            for source in chosen:
                shutil.rmtree(backups.layout.scratch, ignore_errors=True)
                backups.layout.scratch.mkdir(parents=True)
                if request.to_time is not None:
                    from_replica(backups, source, request.to_time, outcome)
                    continue
                snapshot = pick_snapshot(
                    backups, source.name, request.snapshot, status.verified_snapshots
                )
                try:
                    from_snapshot(backups, source, snapshot, outcome)
                except SourceSkipped as exc:
                    if request.sources:
                        raise RestoreRefused(str(exc)) from None
                    outcome.lines.append(f"skipped {exc}")
    except RestoreRefused as exc:
        outcome.fail(f"restore refused: {exc}", exit_code=2)
    except SourceFailed as exc:
        outcome.fail(f"restore failed: {exc}")
    finally:
        shutil.rmtree(backups.layout.scratch, ignore_errors=True)
    return outcome
