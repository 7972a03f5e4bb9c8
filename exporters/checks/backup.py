"""Backup status: the newest backup's age and size, and whether its checksum verifies.

Checksums come from a `<file>.sha256` beside each backup, or from a manifest in
`sha256sum` format. Hashing a large file every minute would be wasteful, so a
verdict is kept for as long as the file's size and modification time are unchanged.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Literal

from pydantic import Field

from exporters.categories import Category, ProbeFailure
from exporters.checks.base import Boundaries, CheckBase, Report
from toolkit.config import Duration

CHUNK = 1 << 20
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


class BackupCheck(CheckBase):
    kind: Literal["backup"]
    directory: Path
    pattern: str = "*"
    # How often backups are made (exported); older than max_age is a failure.
    backup_interval: Duration = 86400.0
    max_age: Duration | None = None  # default: twice the backup interval
    checksum: Literal["sha256_file", "manifest", "none"] = "sha256_file"
    manifest: str = "SHA256SUMS"
    min_size_bytes: int = Field(default=1, ge=0)

    def instance(self) -> str:
        return str(self.directory)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _expected_digest(check: BackupCheck, newest: Path) -> str:
    if check.checksum == "sha256_file":
        source = newest.with_name(newest.name + ".sha256")
        lines = [source.read_text().strip()] if source.exists() else []
    else:
        source = check.directory / check.manifest
        lines = (
            [ln for ln in source.read_text().splitlines() if ln.strip()] if source.exists() else []
        )
    for line in lines:
        parts = line.split()
        # `sha256sum` writes "<hex>  <name>" (or "<hex> *<name>"); a lone hex is fine too.
        if (
            parts
            and _HEX.match(parts[0])
            and (len(parts) == 1 or parts[-1].lstrip("*") == newest.name)
        ):
            return parts[0].lower()
    raise ProbeFailure(Category.DATA_INTEGRITY, f"no checksum for {newest.name} in {source}")


def _verified(check: BackupCheck, newest: Path, size: int, mtime_ns: int, ctx: Boundaries) -> bool:
    # One verdict per check, for its newest file: bounded however many backups come and go.
    key, version = ("backup-verdict", check.name), (str(newest), size, mtime_ns)
    with ctx.cache_lock:
        cached = ctx.cache.get(key)
    if cached is not None and cached[0] == version:
        return bool(cached[1])
    ok = _sha256(newest) == _expected_digest(check, newest)
    with ctx.cache_lock:
        ctx.cache[key] = (version, ok)
    return ok


def _backups(check: BackupCheck) -> list[Path]:
    if not check.directory.is_dir():
        raise ProbeFailure(Category.CONNECTION, f"backup directory {check.directory} is not there")
    skip = {check.manifest} if check.checksum == "manifest" else set()
    return [
        p
        for p in check.directory.glob(check.pattern)
        if p.is_file() and not p.name.endswith(".sha256") and p.name not in skip
    ]


def run(check: BackupCheck, report: Report, ctx: Boundaries) -> None:
    report.add("backup_interval_seconds", check.backup_interval, backup=check.name)
    files = _backups(check)
    report.add("backup_files", len(files), backup=check.name)
    if not files:
        raise ProbeFailure(
            Category.DATA_INTEGRITY, f"no backup matching {check.pattern} in {check.directory}"
        )
    stats = {p: p.stat() for p in files}
    newest = max(files, key=lambda p: stats[p].st_mtime)
    stat = stats[newest]
    report.add("backup_last_success_timestamp_seconds", stat.st_mtime, backup=check.name)
    report.add("backup_size_bytes", stat.st_size, backup=check.name)
    if check.checksum != "none":
        try:
            ok = _verified(check, newest, stat.st_size, stat.st_mtime_ns, ctx)
        except ProbeFailure:
            report.add("backup_checksum_ok", 0, backup=check.name)
            raise
        report.add("backup_checksum_ok", 1 if ok else 0, backup=check.name)
        if not ok:
            raise ProbeFailure(
                Category.DATA_INTEGRITY, f"checksum of {newest.name} does not verify"
            )
    if stat.st_size < check.min_size_bytes:
        raise ProbeFailure(Category.DATA_INTEGRITY, f"{newest.name} is only {stat.st_size} bytes")
    age = ctx.wall() - stat.st_mtime
    max_age = check.max_age or 2 * check.backup_interval
    if age > max_age:
        # The recovery plan's RPO is at risk: treated as a data-integrity failure of
        # the backup set.
        raise ProbeFailure(
            Category.DATA_INTEGRITY, f"newest backup {newest.name} is {age:.0f}s old"
        )
