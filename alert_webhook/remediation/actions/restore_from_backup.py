"""restore_from_backup: put back a file, a SQLite database or a PostgreSQL
database from the newest backup that verifies, keeping the damaged copy aside.

Backups come from a `BackupSource` (a folder of files with `.sha256` sidecars,
or a Litestream replica's transactions): newest first, each copied locally while
its checksum is computed (or rebuilt by `litestream restore`); a
SQLite backup must also pass `PRAGMA integrity_check`, a PostgreSQL dump must be
readable by `pg_restore --list`. Each candidate skipped is reported with why.
Nothing is touched until a backup has verified.

Every path is written in the playbook (never from a label) and must lie under
its `roots`; below a root nothing is followed (see `contained.py`), and a
target that is a symbolic link is refused. A file or SQLite database is written
to a temporary name beside the target and fsynced; the damaged one is then
hard-linked to `<name>.damaged-<UTC time>` and the new one renamed over it, so
there is no moment without a file at the target, and never a torn copy.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Literal

from pydantic import field_validator, model_validator

from alert_webhook.remediation.actions import restore_databases
from alert_webhook.remediation.actions.backup_source import (
    Backup,
    BackupFolder,
    BackupSource,
    FolderSource,
    LitestreamReplica,
    LitestreamSource,
    Unverified,
)
from alert_webhook.remediation.actions.base import (
    Action,
    ActionOutcome,
    ActionParams,
    ActionResult,
    Boundaries,
    tail,
)
from alert_webhook.remediation.actions.contained import (
    absolute_clean,
    clean_roots,
    open_folder,
    strictly_under,
    under,
)
from alert_webhook.remediation.actions.restore_databases import PostgresTarget, RestoreFailed

Kind = Literal["file", "sqlite", "postgresql"]
# SQLite's companions of a database file: a WAL or a hot journal left beside the
# restored file would be replayed into it, so they go aside with the damaged one.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


class RestoreParams(ActionParams):
    kind: Kind
    # The file or SQLite database to restore (kind file / sqlite).
    path: str | None = None
    # The database to restore (kind postgresql).
    postgresql: PostgresTarget | None = None
    # A folder of files with sidecars, or `litestream: {replica, binary}`.
    backups: BackupFolder | LitestreamReplica
    # Every path above (and the PostgreSQL damaged-copy folder) lies under these.
    roots: list[str]

    @field_validator("path")
    @classmethod
    def _clean_path(cls, path: str | None) -> str | None:
        return None if path is None else absolute_clean(path)

    _clean_roots = field_validator("roots")(clean_roots)

    def env_names(self) -> list[str]:
        pg = self.postgresql
        return [pg.password_from_env] if pg is not None and pg.password_from_env else []

    @model_validator(mode="after")
    def _fits_kind(self) -> RestoreParams:
        if self.kind == "postgresql":
            if self.postgresql is None or self.path is not None:
                raise ValueError("kind postgresql takes a postgresql section and no path")
            paths = {"postgresql.keep_aside_in": self.postgresql.keep_aside_in}
        else:
            if self.path is None or self.postgresql is not None:
                raise ValueError(f"kind {self.kind} takes a path and no postgresql section")
            paths = {"path": self.path}
        if isinstance(self.backups, LitestreamReplica):
            paths["backups.litestream.replica"] = self.backups.litestream.replica
        else:
            paths["backups.directory"] = self.backups.directory
        outside = [f"{key} {p!r}" for key, p in paths.items() if not under(p, self.roots)]
        if self.path is not None and not strictly_under(self.path, self.roots):
            outside.append(f"path {self.path!r}")
        if outside:
            raise ValueError(f"{', '.join(dict.fromkeys(outside))}: not under the roots")
        return self


def backups_shown(backups: BackupFolder | LitestreamReplica) -> str:
    if isinstance(backups, LitestreamReplica):
        return f"the Litestream replica {backups.litestream.replica}"
    return backups.directory


def source_for(params: RestoreParams, timeout: float) -> BackupSource:
    if isinstance(params.backups, LitestreamReplica):
        return LitestreamSource(params.backups.litestream, params.roots, timeout)
    return FolderSource(params.backups, params.roots)


@dataclass
class Report:
    lines: list[str]

    def add(self, line: str) -> None:
        self.lines.append(line)

    def text(self) -> str:
        return tail("".join(f"{line}\n" for line in self.lines).encode())


def run(
    params: RestoreParams,
    timeout: float,
    ctx: Boundaries,
    source: BackupSource | None = None,
) -> ActionResult:
    started = ctx.monotonic()
    deadline = started + timeout
    source = source or source_for(params, timeout)
    report = Report([])

    def done(outcome: ActionOutcome, detail: str = "") -> ActionResult:
        return ActionResult(outcome, None, report.text(), ctx.monotonic() - started, detail)

    missing = [name for name in params.env_names() if not ctx.env.get(name)]
    if missing:
        return done(ActionOutcome.FAILED, f"environment variable {', '.join(missing)} is not set")
    try:
        found = source.candidates()
    except (OSError, ValueError) as exc:
        where = backups_shown(params.backups)
        return done(ActionOutcome.FAILED, f"cannot list the backups in {where}: {exc}")
    if not found:
        if isinstance(params.backups, LitestreamReplica):
            return done(ActionOutcome.FAILED, f"no transactions in {backups_shown(params.backups)}")
        folder = params.backups
        return done(
            ActionOutcome.FAILED, f"no backups matching {folder.pattern} in {folder.directory}"
        )
    with tempfile.TemporaryDirectory(prefix="restore-") as work:
        for index, backup in enumerate(found):
            if ctx.monotonic() > deadline:
                return done(
                    ActionOutcome.TIMED_OUT, f"stopped after {timeout:g}s; nothing restored"
                )
            copy = os.path.join(work, f"candidate-{index}")
            try:
                digest = source.fetch_verified(backup, copy)
                _check(params, copy, ctx, deadline)
                report.add(f"verified {backup.where} (sha256 {digest})")
                _restore(params, copy, backup, report, ctx, deadline)
            except Unverified as why:
                report.add(f"skipped {backup.where}: {why}")
                continue
            except RestoreFailed as failed:
                return done(failed.outcome, failed.detail)
            except OSError as exc:
                detail = f"copying {backup.where}: {exc.strerror or exc}; nothing restored"
                return done(ActionOutcome.FAILED, detail)
            return done(ActionOutcome.SUCCEEDED)
    skipped = len(report.lines)
    return done(ActionOutcome.FAILED, f"no backup verifies ({len(found)} found, {skipped} skipped)")


def _check(params: RestoreParams, copy: str, ctx: Boundaries, deadline: float) -> None:
    if params.kind == "sqlite":
        restore_databases.check_sqlite(copy)
    elif params.kind == "postgresql":
        assert params.postgresql is not None
        restore_databases.check_dump(params.postgresql, copy, ctx, deadline)


def _restore(
    params: RestoreParams, copy: str, backup: Backup, report: Report, ctx: Boundaries,
    deadline: float,
) -> None:  # fmt: skip
    stamp = datetime.fromtimestamp(ctx.now(), UTC).strftime("%Y%m%dT%H%M%SZ")
    if params.kind == "postgresql":
        assert params.postgresql is not None
        target = params.postgresql
        dump = restore_databases.restore_postgres(target, copy, params.roots, stamp, ctx, deadline)
        report.add(f"damaged database {target.database} dumped to {dump}")
        report.add(f"restored database {target.database} from {backup.where}")
        return
    assert params.path is not None
    write = _copy_file if params.kind == "file" else restore_databases.sqlite_backup
    companions = SQLITE_COMPANIONS if params.kind == "sqlite" else ()
    try:
        aside = swap_in(params.path, params.roots, copy, write, stamp, companions)
    except OSError as exc:
        raise RestoreFailed(f"{params.path}: {exc.strerror or exc}; left as it was") from None
    report.add(f"restored {params.path} from {backup.where}")
    report.add(f"damaged copy kept at {aside}" if aside else "there was no copy to keep aside")


# Writes the verified copy (first argument) into the new file (second, a path).
Write = Callable[[str, str], None]


def _copy_file(copy: str, into: str) -> None:
    with open(copy, "rb") as src, open(into, "wb") as out:
        while chunk := src.read(1 << 20):
            out.write(chunk)


def swap_in(
    path: str, roots: list[str], copy: str, write: Write, stamp: str,
    companions: tuple[str, ...] = (),
) -> str | None:  # fmt: skip
    """Put the restored file at `path`; where the damaged one went (None: none).

    The folder is opened without following links; the new file is written under
    a temporary name in it and fsynced, the damaged one hard-linked aside, the new
    one renamed over it, the folder fsynced. The folder's real path is used only
    for `write` (sqlite3 takes a path), checked to be the folder just opened."""
    target = PurePosixPath(path)
    name = target.name
    with open_folder(str(target.parent), roots) as folder:
        mode = _existing_mode(folder, name)
        temporary = f".{name}.restore-{uuid.uuid4().hex[:12]}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600,
                     dir_fd=folder)  # fmt: skip
        os.close(fd)
        try:
            real = _same_folder(folder, str(target.parent))
            write(copy, os.path.join(real, temporary))
            _fsync_at(folder, temporary, mode)
            aside = _keep_aside(folder, name, stamp, companions) if mode is not None else None
            os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=folder)
            raise
        os.fsync(folder)
    return str(target.parent / aside) if aside else None


def _existing_mode(folder: int, name: str) -> int | None:
    """The damaged file's permissions (the restored one gets them); None when
    there is none. A link or anything but a regular file is never replaced."""
    try:
        info = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
        raise RestoreFailed(f"{name} is {kind}; not restored over")
    return stat.S_IMODE(info.st_mode)


def _same_folder(folder: int, shown: str) -> str:
    real = os.path.realpath(shown)
    here, there = os.fstat(folder), os.stat(real)
    if (here.st_dev, here.st_ino) != (there.st_dev, there.st_ino):
        raise RestoreFailed(f"{shown} changed while it was being restored; left as it was")
    return real


def _fsync_at(folder: int, name: str, mode: int | None) -> None:
    fd = os.open(name, os.O_RDWR | os.O_NOFOLLOW, dir_fd=folder)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)


def _keep_aside(folder: int, name: str, stamp: str, companions: tuple[str, ...]) -> str:
    """Hard-link the damaged file to `<name>.damaged-<stamp>` (a second restore in
    the same second gets `-2` …); its companions are moved beside it."""
    for n in range(1, 100):
        aside = f"{name}.damaged-{stamp}" + (f"-{n}" if n > 1 else "")
        try:
            os.link(name, aside, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
        except FileExistsError:
            continue
        for suffix in companions:
            with contextlib.suppress(FileNotFoundError):
                os.rename(name + suffix, aside + suffix, src_dir_fd=folder, dst_dir_fd=folder)
        return aside
    raise RestoreFailed(f"{name}: 99 damaged copies from {stamp} already; left as it was")


ACTION = Action("restore_from_backup", RestoreParams, run)
