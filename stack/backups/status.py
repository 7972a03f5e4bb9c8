"""What the backups last did, kept in var/backups/status.json, published as metrics.

Every command (backup, verify, restore test) updates the one status file under
the backup lock and rewrites `backup.prom` from all of it, so one file holds
every backup series and no two writers race for the textfile collector. The
series are the backup probe's (exporters/checks/backup.py), so rules/backups.yml
reads them unchanged:

- backup_last_success_timestamp_seconds, backup_size_bytes, backup_interval_seconds
  per source, from the newest snapshot that holds it;
- backup_checksum_ok: 1 when the source's newest snapshot was restored and checked
  (manifest SHA-256 and sizes, then the source's own check) and the last
  `restic check` passed; 0 when either failed; absent until first verified;
- probe_success{kind="backup"} and probe_failure_category, per source.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile
from pydantic import BaseModel

from exporters.categories import Category

TEXTFILE = "backup.prom"


class SourceStatus(BaseModel):
    last_success: float | None = None
    size_bytes: int | None = None
    snapshot: str | None = None
    # Outcome of the last restore-and-check of `snapshot`; None: not checked yet.
    verified: bool | None = None
    error: str | None = None
    category: Category | None = None
    note: str | None = None


class RepositoryStatus(BaseModel):
    checked_at: float
    ok: bool
    read_data: bool = False
    message: str = ""


class Status(BaseModel):
    interval_seconds: float
    sources: dict[str, SourceStatus] = {}
    repository: RepositoryStatus | None = None
    verified_snapshots: list[str] = []
    last_backup: float | None = None
    # What the last snapshot added to the repository after deduplication.
    last_added_bytes: int | None = None
    last_verify: float | None = None
    last_restore_test: float | None = None

    @classmethod
    def load(cls, path: Path, interval_seconds: float) -> Status:
        try:
            status = cls.model_validate_json(path.read_text())
        except (OSError, ValueError):
            # Missing or damaged: start afresh; the snapshots themselves are in restic,
            # and the next backup and verification fill this in again.
            return cls(interval_seconds=interval_seconds)
        return status.model_copy(update={"interval_seconds": interval_seconds})

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(self.model_dump_json(indent=1))
        temporary.replace(path)

    def checksum_ok(self, name: str) -> bool | None:
        verified = self.sources[name].verified
        if self.repository is not None and not self.repository.ok:
            return False
        return verified


def probe_name(source: str) -> str:
    return f"backup-{source}"


def registry(status: Status) -> CollectorRegistry:
    reg = CollectorRegistry()
    probe, backup = ["probe", "kind"], ["probe", "kind", "backup"]

    def gauge(name: str, doc: str, labels: list[str]) -> Gauge:
        return Gauge(name, doc, labels, registry=reg)

    success = gauge("probe_success", "Whether the source's last backup run succeeded.", probe)
    failure = gauge(
        "probe_failure_category", "1 for the category of the current failure.", [*probe, "category"]
    )
    last = gauge(
        "backup_last_success_timestamp_seconds", "Time of the newest snapshot holding it.", backup
    )
    size = gauge("backup_size_bytes", "Size of the source as last staged.", backup)
    interval = gauge("backup_interval_seconds", "How often a backup is taken.", backup)
    checksum = gauge("backup_checksum_ok", "Newest snapshot restored and checked.", backup)
    for name, source in sorted(status.sources.items()):
        if source.last_success is None and source.error is None:
            continue  # never backed up (skipped so far): nothing to judge yet
        key, sample = (probe_name(name), "backup"), (probe_name(name), "backup", name)
        success.labels(*key).set(0 if source.error else 1)
        for category in Category:
            failure.labels(*key, category.value).set(1 if source.category == category else 0)
        interval.labels(*sample).set(status.interval_seconds)
        if source.last_success is not None:
            last.labels(*sample).set(source.last_success)
        if source.size_bytes is not None:
            size.labels(*sample).set(source.size_bytes)
        if (ok := status.checksum_ok(name)) is not None:
            checksum.labels(*sample).set(1 if ok else 0)
    if status.last_added_bytes is not None:
        gauge(
            "backup_last_run_added_bytes", "Bytes the last snapshot added (deduplicated).", []
        ).set(status.last_added_bytes)
    if status.repository is not None:
        gauge("backup_repository_check_ok", "The last `restic check` passed.", []).set(
            1 if status.repository.ok else 0
        )
        gauge("backup_repository_check_timestamp_seconds", "When `restic check` last ran.", []).set(
            status.repository.checked_at
        )
    return reg


def publish(status: Status, directory: Path) -> Path:
    """backup.prom in the textfile directory, written to a temporary name and renamed."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / TEXTFILE
    write_to_textfile(str(path), registry(status))
    return path
