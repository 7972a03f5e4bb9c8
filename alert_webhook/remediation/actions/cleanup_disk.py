"""cleanup_disk: delete old files matching globs, under configured roots only.

The roots are absolute paths written in the playbook (never from a label). A
root itself is resolved once (it may be a link an operator set up on purpose);
below it nothing is followed: each directory is opened relative to its parent
with O_NOFOLLOW and each file is removed relative to its directory, so no path
is ever rebuilt from text and a link swapped in mid-walk cannot lead outside.

Symbolic links are never followed and never deleted, even when their name
matches: deleting one frees no space, and a link is usually a deliberate pointer
(`current.log -> app-2024-06.log`) whose loss would break what reads it. Only
regular files are deleted; directories stay, even when emptied.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import stat
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from pydantic import Field, field_validator

from alert_webhook.remediation.actions.base import (
    Action,
    ActionOutcome,
    ActionParams,
    ActionResult,
    Boundaries,
    tail,
)
from toolkit.config import Duration

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_WHOLE_DISK = "/ is not a root to clean"
# How many problems the detail names; the count says how many there were.
_SHOWN_PROBLEMS = 3


class CleanupDiskParams(ActionParams):
    roots: list[str] = Field(min_length=1)
    # A glob without `/` matches a file's name at any depth; one with `/` matches
    # its path relative to the root (`*` then crosses directories too).
    patterns: list[str] = Field(min_length=1)
    older_than: Duration  # by modification time
    dry_run: bool = False  # list what would be deleted, delete nothing

    @field_validator("roots")
    @classmethod
    def _contained_roots(cls, roots: list[str]) -> list[str]:
        for root in roots:
            if not os.path.isabs(root):
                raise ValueError(f"{root!r} must be an absolute path")
            if ".." in PurePosixPath(root).parts:
                raise ValueError(f"{root!r} must not hold '..'")
            if len(PurePosixPath(root).parts) < 2:
                raise ValueError(f"{_WHOLE_DISK}: name the folder that fills up")
        return roots

    @field_validator("patterns")
    @classmethod
    def _relative_patterns(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if not pattern or pattern.startswith("/"):
                raise ValueError(f"{pattern!r} must be a non-empty relative glob")
            if ".." in PurePosixPath(pattern).parts:
                raise ValueError(f"{pattern!r} must not hold '..'")
        return patterns

    def matches(self, relative: str) -> bool:
        name = relative.rsplit("/", 1)[-1]
        return any(fnmatch.fnmatchcase(relative if "/" in p else name, p) for p in self.patterns)


@dataclass
class CleanupTally:
    """What one cleanup found: files deleted (or that would be), kept, and why not."""

    deleted: list[tuple[str, int]] = field(default_factory=list)
    kept_young: int = 0
    kept_links: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def bytes_freed(self) -> int:
        return sum(size for _, size in self.deleted)


class _OutOfTime(Exception):
    pass


def _walk(dir_fd: int, prefix: str) -> Generator[tuple[int, str, os.DirEntry[str]], None, None]:
    """(directory fd, path relative to the root, entry) for everything below, depth
    first; subdirectories are opened with O_NOFOLLOW relative to their parent."""
    with os.scandir(dir_fd) as entries:
        listed = list(entries)
    for entry in listed:
        relative = f"{prefix}{entry.name}"
        if entry.is_dir(follow_symlinks=False):
            try:
                sub = os.open(entry.name, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError:
                continue  # gone, swapped for a link, or unreadable: not ours to enter
            try:
                yield from _walk(sub, f"{relative}/")
            finally:
                os.close(sub)
        else:
            yield dir_fd, relative, entry


def _clean_root(
    root: str,
    params: CleanupDiskParams,
    cutoff: float,
    tally: CleanupTally,
    ctx: Boundaries,
    deadline: float,
) -> None:
    real = os.path.realpath(root)
    if real == "/":
        # A root that is a link to / would put the whole machine in reach.
        tally.problems.append(f"{root}: {_WHOLE_DISK}")
        return
    try:
        root_fd = os.open(real, _DIR_FLAGS)
    except OSError as exc:
        tally.problems.append(f"{root}: {exc.strerror or exc}")
        return
    try:
        # Closed at once on a timeout, so every directory it opened is closed too.
        with contextlib.closing(_walk(root_fd, "")) as found:
            for dir_fd, relative, entry in found:
                if ctx.monotonic() > deadline:
                    raise _OutOfTime
                if params.matches(relative):
                    _consider(dir_fd, os.path.join(real, relative), entry, params, cutoff, tally)
    except OSError as exc:
        tally.problems.append(f"{root}: {exc.strerror or exc}")
    finally:
        os.close(root_fd)


def _consider(
    dir_fd: int,
    shown: str,
    entry: os.DirEntry[str],
    params: CleanupDiskParams,
    cutoff: float,
    tally: CleanupTally,
) -> None:
    try:
        info = os.stat(entry.name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        tally.kept_links += 1
        return
    if not stat.S_ISREG(info.st_mode):
        return
    if info.st_mtime > cutoff:
        tally.kept_young += 1
        return
    if not params.dry_run:
        try:
            os.unlink(entry.name, dir_fd=dir_fd)
        except FileNotFoundError:
            return
        except OSError as exc:
            tally.problems.append(f"{shown}: {exc.strerror or exc}")
            return
    tally.deleted.append((shown, info.st_size))


def report(tally: CleanupTally, dry_run: bool) -> str:
    """One line per file, then the totals last, where a cut output still keeps them."""
    verb = "would delete" if dry_run else "deleted"
    lines = [f"{verb} {path} ({size} bytes)" for path, size in tally.deleted]
    lines.append(
        f"{verb} {len(tally.deleted)} files, {tally.bytes_freed} bytes; kept "
        f"{tally.kept_young} newer, {tally.kept_links} symlinks; {len(tally.problems)} problems"
    )
    return "\n".join(lines) + "\n"


def run(params: CleanupDiskParams, timeout: float, ctx: Boundaries) -> ActionResult:
    started = ctx.monotonic()
    cutoff = ctx.now() - params.older_than
    tally = CleanupTally()
    outcome, detail = ActionOutcome.SUCCEEDED, ""
    try:
        for root in params.roots:
            _clean_root(root, params, cutoff, tally, ctx, started + timeout)
    except _OutOfTime:
        outcome, detail = (
            ActionOutcome.TIMED_OUT,
            f"stopped after {timeout:g}s; what was done is listed",
        )
    if tally.problems and outcome is ActionOutcome.SUCCEEDED:
        outcome = ActionOutcome.FAILED
        shown = "; ".join(tally.problems[:_SHOWN_PROBLEMS])
        more = len(tally.problems) - _SHOWN_PROBLEMS
        detail = shown + (f" (and {more} more)" if more > 0 else "")
    output = tail(report(tally, params.dry_run).encode())
    return ActionResult(outcome, None, output, ctx.monotonic() - started, detail)


ACTION = Action("cleanup_disk", CleanupDiskParams, run)
