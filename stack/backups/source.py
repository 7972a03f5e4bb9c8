"""What every backed-up source shares: a staging folder, its manifest, the aside rule.

A source writes a consistent copy of itself into its own staging folder (never a
torn copy of a live file); restic snapshots the folder; a restore brings the
folder back, checks it (the manifest's sizes and SHA-256, then the source's own
check) and only then puts it in place, keeping what it replaced aside.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

import requests

MANIFEST = "manifest.json"


class SourceSkipped(Exception):
    """Nothing to back up this time (e.g. Alertmanager is not running); the note says why."""


class SourceFailed(Exception):
    """The source could not be staged (damaged, unreachable): the run reports it failed."""


class RestoreRefused(Exception):
    """A restored copy that fails its check, or a target that must not be replaced now."""


@dataclass(frozen=True)
class Context:
    """The outside world of a source: the stack's root, the time, HTTP."""

    root: Path
    now: Callable[[], datetime]
    http: requests.Session = field(default_factory=requests.Session)
    # Where replaced state that is not a file beside its target is kept.
    aside: Path | None = None

    def stamp(self) -> str:
        return self.now().strftime("%Y%m%dT%H%M%SZ")

    def aside_dir(self) -> Path:
        folder = self.aside or self.root / "var" / "backups" / "replaced"
        folder.mkdir(parents=True, exist_ok=True)
        return folder


class Source(Protocol):
    @property
    def name(self) -> str: ...

    # True when the running stack holds it open, so replacing it needs --force.
    @property
    def live_while_running(self) -> bool: ...

    def stage(self, folder: Path, ctx: Context) -> None: ...

    def check(self, folder: Path) -> list[str]: ...

    def restore(self, folder: Path, ctx: Context) -> list[str]: ...


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def staged_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def write_manifest(folder: Path) -> int:
    """Each staged file's size and SHA-256; the total size."""
    entries: dict[str, dict[str, int | str]] = {
        str(p.relative_to(folder)): {"size": p.stat().st_size, "sha256": sha256(p)}
        for p in staged_files(folder)
    }
    (folder / MANIFEST).write_text(json.dumps(entries, indent=1, sort_keys=True))
    return sum(int(e["size"]) for e in entries.values())


def check_manifest(folder: Path, name: str) -> list[str]:
    """What differs between the restored folder and the manifest staged with it."""
    try:
        entries = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        return [f"{name}: no readable {MANIFEST} in the snapshot ({exc})"]
    problems = []
    for rel, want in sorted(entries.items()):
        path = folder / rel
        if not path.is_file():
            problems.append(f"{name}: {rel} is missing from the snapshot")
        elif path.stat().st_size != want["size"]:
            problems.append(
                f"{name}: {rel} is {path.stat().st_size} bytes, the backup had {want['size']}"
            )
        elif sha256(path) != want["sha256"]:
            problems.append(f"{name}: {rel} does not match its SHA-256 from the backup")
    return problems


def put_aside(target: Path, stamp: str) -> Path | None:
    """Rename `target` to `<name>.replaced-<stamp>` beside it (None when there is none)."""
    if not target.exists():
        return None
    aside = target.with_name(f"{target.name}.replaced-{stamp}")
    target.rename(aside)
    return aside


def install(copy: Path, target: Path) -> None:
    """Copy into place through a temporary name, so a reader never sees half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.restoring")
    shutil.copy2(copy, temporary)
    temporary.replace(target)
