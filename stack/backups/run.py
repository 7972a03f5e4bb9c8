"""One backup run, one verification, one restore: restic and the sources, composed.

Each command holds var/backups/lock while it runs (a scheduled backup and a
manual restore wait for each other), updates the status file and republishes
backup.prom, and returns an Outcome: what to print, and the exit status.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from exporters.categories import Category
from stack.backups import litestream
from stack.backups.restic import Restic, ResticError, Retention, Snapshot
from stack.backups.source import (
    Context,
    RestoreRefused,
    Source,
    SourceFailed,
    SourceSkipped,
    check_manifest,
    write_manifest,
)
from stack.backups.sources import BackupLayout
from stack.backups.sqlite import SqliteSource
from stack.backups.status import RepositoryStatus, SourceStatus, Status, publish

TAG = "recovery-stack"


def data_subset(now: float, everything: bool) -> str:
    """What `restic check` reads of the data packs: all of it for a restore test;
    else one seventh, a different one each day, so a week of daily checks reads
    every pack (a check without data reads sees missing or truncated packs only)."""
    return "100%" if everything else f"{int(now // 86400) % 7 + 1}/7"


@dataclass
class Outcome:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    exit_code: int = 0

    def fail(self, problem: str, exit_code: int = 1) -> None:
        self.problems.append(problem)
        self.exit_code = max(self.exit_code, exit_code)


@dataclass(frozen=True)
class Backups:
    layout: BackupLayout
    sources: Sequence[Source]
    restic: Restic
    ctx: Context
    interval_seconds: float
    retention: Retention = Retention()
    host: str = "recovery-stack"
    litestream_bin: str | None = None
    clock: Callable[[], float] = time.time

    @contextlib.contextmanager
    def locked(self) -> Iterator[Status]:
        """The backup lock held, the status loaded; saved and published on the way out."""
        # Private: staging holds plain copies of the stores.
        self.layout.base.mkdir(parents=True, exist_ok=True)
        self.layout.base.chmod(0o700)
        with open(self.layout.lock, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            status = Status.load(self.layout.status, self.interval_seconds)
            try:
                yield status
            finally:
                status.save(self.layout.status)
                publish(status, self.layout.textfile)

    def source(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources)
        raise RestoreRefused(f"no backed-up source named {name!r} (there are: {known})")

    def newest(self, name: str, verified: Sequence[str] | None = None) -> Snapshot | None:
        """The newest snapshot holding `name` (of those in `verified`, when given)."""
        snapshots = [s for s in self.restic.snapshots(tag=name) if name in s.tags]
        if verified is not None:
            snapshots = [s for s in snapshots if s.id in verified]
        return snapshots[-1] if snapshots else None

    def _fresh(self, folder: Path) -> Path:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def stage(self, status: Status, outcome: Outcome) -> dict[str, int]:
        """Each source's consistent copy in staging/<name>/; the sizes of those staged."""
        staged: dict[str, int] = {}
        self._fresh(self.layout.staging)
        for source in self.sources:
            state = status.sources.setdefault(source.name, SourceStatus())
            folder = self._fresh(self.layout.staging / source.name)
            try:
                source.stage(folder, self.ctx)
            except SourceSkipped as exc:
                shutil.rmtree(folder)
                state.note = str(exc)
                outcome.lines.append(f"skipped {exc}")
                continue
            except (SourceFailed, OSError) as exc:
                shutil.rmtree(folder)
                category = (
                    Category.PERMISSION
                    if isinstance(exc, PermissionError)
                    else Category.DATA_INTEGRITY
                )
                state.error, state.category = str(exc), category
                outcome.fail(f"{source.name}: not backed up: {exc}")
                continue
            staged[source.name] = write_manifest(folder)
        return staged

    def restored_problems(self, snapshot: str, names: Sequence[str], into: Path) -> dict[str, str]:
        """Restore `names` of `snapshot` into `into` and check each: name → problem."""
        folders = [self.layout.staging / name for name in names]
        try:
            self.restic.restore(snapshot, self._fresh(into), include=folders)
        except ResticError as exc:
            return {name: str(exc) for name in names}
        problems = {}
        for name, folder in zip(names, folders, strict=True):
            copy = into / folder.relative_to("/")
            found = check_manifest(copy, name) or self.source(name).check(copy)
            if found:
                problems[name] = "; ".join(found)
        return problems

    def backup(self) -> Outcome:
        outcome = Outcome()
        with self.locked() as status:
            self.restic.ensure_repository()
            staged = self.stage(status, outcome)
            if not staged:
                outcome.fail("nothing to back up")
                return outcome
            try:
                summary = self.restic.backup(
                    [self.layout.staging / name for name in staged], [TAG, *staged], self.host
                )
            except ResticError as exc:
                for name in staged:
                    status.sources[name].error = str(exc)
                    status.sources[name].category = Category.DATA_INTEGRITY
                outcome.fail(str(exc))
                return outcome
            now = self.clock()
            status.last_backup, status.last_added_bytes = now, summary.data_added
            for name, size in staged.items():
                status.sources[name] = SourceStatus(
                    last_success=now, size_bytes=size, snapshot=summary.snapshot_id
                )
            outcome.lines.append(
                f"snapshot {summary.snapshot_id[:8]} of {', '.join(staged)}: "
                f"{summary.data_added} bytes added to {self.layout.repository}"
            )
            self.check_snapshot(status, summary.snapshot_id, list(staged), outcome)
        return outcome

    def check_snapshot(
        self, status: Status, snapshot: str, names: list[str], outcome: Outcome
    ) -> None:
        """Restore `names` of `snapshot` to scratch and check them; record the verdict."""
        problems = self.restored_problems(snapshot, names, self.layout.scratch)
        shutil.rmtree(self.layout.scratch, ignore_errors=True)
        for name in names:
            state = status.sources[name]
            if state.snapshot == snapshot:
                state.verified = name not in problems
        if problems:
            for name, problem in problems.items():
                outcome.fail(f"snapshot {snapshot[:8]} of {name} does not verify: {problem}")
        elif snapshot not in status.verified_snapshots:
            status.verified_snapshots.append(snapshot)
            outcome.lines.append(f"snapshot {snapshot[:8]} restored to scratch and checked: ok")

    def verify(self, restore_test: bool = False) -> Outcome:
        """`restic check` (all data with `restore_test`), then each source's newest
        snapshot restored to scratch and checked; a restore test checks the
        Litestream replicas too."""
        outcome = Outcome()
        with self.locked() as status:
            self.restic.ensure_repository()
            now = self.clock()
            ok, said = self.restic.check(read_data_subset=data_subset(now, restore_test))
            status.repository = RepositoryStatus(
                checked_at=now, ok=ok, read_data=restore_test, message=said[-2000:]
            )
            if not ok:
                tail = " / ".join(said.splitlines()[-3:])
                outcome.fail(f"restic check found the repository damaged: {tail}")
                return outcome
            subset = data_subset(now, restore_test)
            outcome.lines.append(f"restic check: no errors (data packs read: {subset})")
            by_snapshot: dict[str, list[str]] = {}
            for source in self.sources:
                if (snap := self.newest(source.name)) is not None:
                    by_snapshot.setdefault(snap.id, []).append(source.name)
                    status.sources.setdefault(source.name, SourceStatus()).snapshot = snap.id
            for snapshot, names in by_snapshot.items():
                self.check_snapshot(status, snapshot, names, outcome)
            if restore_test:
                self.check_replicas(outcome)
                status.last_restore_test = now
            status.last_verify = now
        return outcome

    def check_replicas(self, outcome: Outcome) -> None:
        if self.litestream_bin is None:
            return
        scratch = self._fresh(self.layout.scratch / "replica")
        for source in self.sources:
            if not isinstance(source, SqliteSource):
                continue
            if not litestream.replica_dir(self.layout.replicas, source).is_dir():
                outcome.lines.append(f"{source.name}: no Litestream replica yet")
                continue
            try:
                litestream.restore(
                    self.litestream_bin,
                    self.layout.replicas,
                    source,
                    scratch / source.filename,
                    None,
                )
            except litestream.LitestreamError as exc:
                outcome.fail(str(exc))
                continue
            if problems := source.check(scratch):
                outcome.fail("; ".join(problems))
            else:
                outcome.lines.append(f"{source.name}: Litestream replica restored and checked: ok")
        shutil.rmtree(self.layout.scratch, ignore_errors=True)

    def prune(self) -> Outcome:
        outcome = Outcome()
        with self.locked() as status:
            self.restic.ensure_repository()
            removed = self.restic.forget(self.retention)
            status.verified_snapshots = [s for s in status.verified_snapshots if s not in removed]
            outcome.lines.append(f"retention: {len(removed)} snapshot(s) forgotten and pruned")
        return outcome
