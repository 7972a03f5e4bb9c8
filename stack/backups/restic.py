"""restic, run as a subprocess with the repository and password file in its env only.

Our code never copies, chunks, encrypts or checks data itself: restic does all of
it. The password file is made on first use, readable by its owner only, and its
content never leaves it (restic reads the file; we pass its path).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


class ResticError(Exception):
    """restic failed: `what` it was asked, and the end of what it said."""

    def __init__(self, what: str, output: str) -> None:
        tail = "\n".join(output.strip().splitlines()[-8:])
        super().__init__(f"restic {what} failed: {tail or '(no output)'}")
        self.output = output


def find_restic(env: Mapping[str, str]) -> str:
    """RESTIC_BIN, else restic on PATH (`make up` installs Debian's package)."""
    name = env.get("RESTIC_BIN") or "restic"
    found = shutil.which(name, path=env.get("PATH"))
    if not found:
        raise ResticError(
            "lookup", f"{name} not found: run `make up` (it installs restic) or set RESTIC_BIN"
        )
    return found


def ensure_password_file(path: Path) -> Path:
    """The repository's password file: made once, mode 0600 before anything is written."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    path.chmod(0o600)
    return path


@dataclass(frozen=True)
class Snapshot:
    id: str
    time: str
    tags: tuple[str, ...]
    paths: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Snapshot:
        return cls(
            id=str(data["id"]),
            time=str(data["time"]),
            tags=tuple(data.get("tags") or ()),
            paths=tuple(data.get("paths") or ()),
        )


@dataclass(frozen=True)
class BackupSummary:
    snapshot_id: str
    data_added: int
    files_new: int
    files_changed: int
    total_bytes_processed: int


@dataclass(frozen=True)
class Retention:
    """restic's --keep-* policy: the recovery plan's daily full and hourly
    incremental backups kept for a day of hours, a week of days, a month of weeks
    and a year of months."""

    last: int = 12
    hourly: int = 24
    daily: int = 7
    weekly: int = 4
    monthly: int = 12

    def argv(self) -> list[str]:
        return [
            f"--keep-last={self.last}",
            f"--keep-hourly={self.hourly}",
            f"--keep-daily={self.daily}",
            f"--keep-weekly={self.weekly}",
            f"--keep-monthly={self.monthly}",
        ]


@dataclass(frozen=True)
class Restic:
    binary: str
    repository: Path
    password_file: Path
    # Where restic keeps its cache: beside the repository, not in $HOME.
    cache: Path
    run: Runner = subprocess.run

    def _env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.cache),
            "RESTIC_REPOSITORY": str(self.repository),
            "RESTIC_PASSWORD_FILE": str(self.password_file),
            "RESTIC_CACHE_DIR": str(self.cache),
        }

    def _call(self, what: str, args: Sequence[str], check: bool = True) -> tuple[int, str, str]:
        done = self.run(
            [self.binary, *args],
            env=self._env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=3600,
        )
        if check and done.returncode != 0:
            raise ResticError(what, done.stderr + done.stdout)
        return done.returncode, done.stdout, done.stderr

    def ensure_repository(self) -> None:
        """`restic init` the first time: the repository folder has no config yet."""
        ensure_password_file(self.password_file)
        self.cache.mkdir(parents=True, exist_ok=True)
        if not (self.repository / "config").exists():
            self.repository.parent.mkdir(parents=True, exist_ok=True)
            self._call("init", ["init"])
        else:
            # Callers hold the backup lock, so a restic lock left now is stale (a run
            # that was killed); `unlock` removes only stale ones.
            self._call("unlock", ["unlock"])

    def backup(self, paths: Sequence[Path], tags: Sequence[str], host: str) -> BackupSummary:
        args = ["backup", "--json", f"--host={host}"]
        args += [f"--tag={tag}" for tag in tags]
        _, out, _ = self._call("backup", [*args, *map(str, paths)])
        for line in out.splitlines():
            message = json.loads(line) if line.startswith("{") else {}
            if message.get("message_type") == "summary":
                return BackupSummary(
                    snapshot_id=self.full_id(message["snapshot_id"]),
                    data_added=int(message.get("data_added", 0)),
                    files_new=int(message.get("files_new", 0)),
                    files_changed=int(message.get("files_changed", 0)),
                    total_bytes_processed=int(message.get("total_bytes_processed", 0)),
                )
        raise ResticError("backup", "no summary in its output")

    def full_id(self, short: str) -> str:
        """restic 0.14's backup summary names the snapshot by its short id."""
        _, out, _ = self._call("snapshots", ["snapshots", "--json", short])
        return str(json.loads(out)[0]["id"])

    def snapshots(self, tag: str | None = None) -> list[Snapshot]:
        """Oldest first, as restic lists them."""
        args = ["snapshots", "--json"] + ([f"--tag={tag}"] if tag else [])
        _, out, _ = self._call("snapshots", args)
        return [Snapshot.from_json(item) for item in json.loads(out or "[]")]

    def restore(self, snapshot: str, target: Path, include: Sequence[Path] = ()) -> None:
        args = ["restore", snapshot, f"--target={target}"]
        args += [f"--include={path}" for path in include]
        self._call("restore", args)

    def check(self, read_data_subset: str | None = None) -> tuple[bool, str]:
        """restic's own verdict on the repository, and what it said."""
        args = ["check"] + ([f"--read-data-subset={read_data_subset}"] if read_data_subset else [])
        code, out, err = self._call("check", args, check=False)
        return code == 0, (out + err).strip()

    def forget(self, policy: Retention) -> list[str]:
        """Apply the retention policy and prune; the ids of the snapshots removed."""
        _, out, _ = self._call(
            "forget", ["forget", "--json", "--prune", "--group-by=host", *policy.argv()]
        )
        # --json prints the groups first; prune's progress lines follow it.
        groups = json.loads(out.splitlines()[0]) if out.strip() else []
        return [snap["id"] for group in groups for snap in group.get("remove") or ()]
