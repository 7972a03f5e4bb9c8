"""Files of the stack kept as they are: its configs, committed and rendered.

Staged by copying (these are small and written whole, not appended to while
read), each under its path relative to the stack's root, so a restore knows
where each goes back.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from stack.backups.source import Context, SourceSkipped, install, put_aside, staged_files


def parse_problem(path: Path, label: str) -> str | None:
    """Why a YAML or JSON file does not parse (None when it does, or is neither)."""
    try:
        if path.suffix in (".yml", ".yaml"):
            yaml.safe_load(path.read_text())
        elif path.suffix == ".json":
            json.loads(path.read_text())
    except (ValueError, yaml.YAMLError, UnicodeDecodeError) as exc:
        return f"{label}: {path.name} does not parse: {str(exc).splitlines()[0]}"
    return None


@dataclass(frozen=True)
class FilesSource:
    name: str
    root: Path
    # Globs relative to `root`.
    patterns: Sequence[str]
    # Names never backed up: the per-run secrets `make up` writes anew each run.
    exclude: Sequence[str] = ()
    live_while_running: bool = True

    def files(self) -> list[Path]:
        found = {p for pattern in self.patterns for p in self.root.glob(pattern) if p.is_file()}
        return sorted(p for p in found if p.name not in self.exclude)

    def stage(self, folder: Path, ctx: Context) -> None:
        files = self.files()
        if not files:
            raise SourceSkipped(f"{self.name}: none of {', '.join(self.patterns)} exists")
        for path in files:
            copy = folder / path.relative_to(self.root)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy)

    def check(self, folder: Path) -> list[str]:
        problems = [parse_problem(p, self.name) for p in staged_files(folder)]
        return [p for p in problems if p]

    def restore(self, folder: Path, ctx: Context) -> list[str]:
        stamp, done = ctx.stamp(), []
        for copy in staged_files(folder):
            target = self.root / copy.relative_to(folder)
            if target.is_file() and target.read_bytes() == copy.read_bytes():
                continue
            aside = put_aside(target, stamp)
            install(copy, target)
            done.append(f"restored {target}" + (f" (kept aside as {aside.name})" if aside else ""))
        return done or [f"{self.name}: every file already matches the snapshot"]
