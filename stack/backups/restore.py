"""`python -m stack restore`: a snapshot (or the Litestream replica) back in place.

By default each source comes back from the newest copy of it that verifies:
an SQLite store's Litestream replica (a second or so behind the store) unless
a verified snapshot is newer, else the newest verified snapshot; a replica that
does not restore or check falls back to that snapshot, saying why. Every source
restored says the point in time it now holds, and from where.

The chosen copy is restored to scratch and checked first (manifest sizes and
SHA-256, SQLite's integrity_check, JSON and YAML parse); only a copy that
passes replaces anything, and what it replaces is kept aside.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from stack.backups import litestream
from stack.backups.restic import Snapshot
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


def utc(moment: datetime) -> str:
    """A point in time as the lines say it: 2026-12-06T23:39:26Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def taken(snapshot: Snapshot) -> datetime:
    return datetime.fromisoformat(snapshot.time)


def pick_snapshot(backups: Backups, name: str, wanted: str | None, verified: list[str]) -> Snapshot:
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
        return found
    if wanted == "latest":
        return newest
    for snap in backups.restic.snapshots(tag=name):
        if snap.id.startswith(wanted) and name in snap.tags:
            return snap
    raise RestoreRefused(f"snapshot {wanted} does not exist or does not hold {name}")


def from_snapshot(backups: Backups, source: Source, snapshot: Snapshot, outcome: Outcome) -> None:
    scratch, short = backups.layout.scratch, snapshot.id[:8]
    backups.restic.restore(snapshot.id, scratch, include=[backups.layout.staging / source.name])
    folder = scratch / (backups.layout.staging / source.name).relative_to("/")
    if not folder.is_dir():
        raise RestoreRefused(f"snapshot {short} holds nothing for {source.name}")
    problems = check_manifest(folder, source.name) or source.check(folder)
    if problems:
        raise RestoreRefused(f"snapshot {short} not restored: " + "; ".join(problems))
    outcome.lines += source.restore(folder, backups.ctx)
    outcome.lines.append(
        f"{source.name}: restored from snapshot {short} of {utc(taken(snapshot))} and checked"
    )


def from_replica(
    backups: Backups,
    source: Source,
    to_time: str,
    outcome: Outcome,
    point: datetime | None = None,
    why: str = "",
) -> None:
    """The replica as of `to_time` (RFC 3339), or at its newest (`latest`: said with
    its newest point in time, `point` if known, and `why`)."""
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
    said = to_time
    if timestamp is None:
        if point is None:
            with contextlib.suppress(litestream.LitestreamError):
                point = replica_point(backups, source)
        newest = f"its newest transaction{why}"
        said = f"{utc(point)} ({newest})" if point is not None else newest
    outcome.lines += source.restore(folder, backups.ctx)
    outcome.lines.append(f"{source.name}: restored from its Litestream replica as of {said}")


def replica_point(backups: Backups, source: Source) -> datetime | None:
    """The newest point in time `source`'s replica holds; None when it has none.
    LitestreamError when it has one that cannot be listed."""
    if not isinstance(source, SqliteSource) or backups.litestream_bin is None:
        return None
    return litestream.newest_point(backups.litestream_bin, backups.layout.replicas, source)


def newest_verified(
    backups: Backups, source: Source, verified: list[str], outcome: Outcome
) -> None:
    """`source` from its replica or its newest verified snapshot, whichever is newer
    and verifies; a replica that does not is passed over, saying why."""
    snapshot = backups.newest(source.name, verified=verified)
    try:
        point = replica_point(backups, source)
    except litestream.LitestreamError as exc:
        point, passed_over = None, str(exc)
    else:
        passed_over = ""
    if point is not None and snapshot is not None and taken(snapshot) > point:
        outcome.lines.append(
            f"{source.name}: snapshot {snapshot.id[:8]} ({utc(taken(snapshot))}) is newer than "
            f"its Litestream replica ({utc(point)})"
        )
    elif point is not None:
        than = (
            f", newer than the newest verified snapshot ({snapshot.id[:8]}, {utc(taken(snapshot))})"
            if snapshot is not None
            else ""
        )
        try:
            from_replica(backups, source, "latest", outcome, point=point, why=than)
            return
        except RestoreRefused as exc:
            if snapshot is None:
                raise
            passed_over = str(exc)
            shutil.rmtree(backups.layout.scratch, ignore_errors=True)
            backups.layout.scratch.mkdir(parents=True)
    if passed_over:
        outcome.lines.append(
            f"{source.name}: its Litestream replica was not used ({passed_over}): "
            "the newest verified snapshot instead"
        )
    from_snapshot(backups, source, pick_snapshot(backups, source.name, None, verified), outcome)


def has_replica(backups: Backups, source: Source) -> bool:
    return (
        isinstance(source, SqliteSource)
        and backups.litestream_bin is not None
        and litestream.replica_dir(backups.layout.replicas, source).is_dir()
    )


def everything(backups: Backups, request: Request, outcome: Outcome) -> list[Source]:
    """No source named: each that has something to restore from (a note for the rest)."""
    chosen = []
    default = request.to_time is None and request.snapshot is None
    for source in backups.sources:
        if request.to_time is not None and not isinstance(source, SqliteSource):
            continue
        if request.to_time is None and not (
            backups.newest(source.name) is not None or (default and has_replica(backups, source))
        ):
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
                try:
                    if request.snapshot is None:
                        newest_verified(backups, source, status.verified_snapshots, outcome)
                    else:
                        snapshot = pick_snapshot(
                            backups, source.name, request.snapshot, status.verified_snapshots
                        )
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
