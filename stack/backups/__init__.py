"""Backups of the stack's own state: restic snapshots, Litestream replicas, pg_dump.

`make_backups(root, env)` is the one factory: it reads the environment (the
interval, binaries, ports) and builds the sources, restic and the context that
`run`, `restore` and `schedule` use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from stack.backups import litestream
from stack.backups.restic import Restic, find_restic
from stack.backups.run import Backups
from stack.backups.source import Context
from stack.backups.sources import BackupLayout, sources

INTERVAL_ENV = "STACK_BACKUP_INTERVAL_SECONDS"
# Five minutes: restic's RPO for what Litestream does not replicate (configs,
# silences, a PostgreSQL store) stays inside the recovery plan's 15 min RPO for
# important data even when one run fails (the rules call a backup too old at two intervals).
DEFAULT_INTERVAL = 300.0


class BackupConfigError(Exception):
    pass


def interval_from_env(env: Mapping[str, str]) -> float:
    raw = env.get(INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise BackupConfigError(f"{INTERVAL_ENV}={raw}: must be a positive number of seconds")
    return value


def make_backups(root: Path, env: Mapping[str, str]) -> Backups:
    layout = BackupLayout(root)
    litestream_bin = None
    with contextlib.suppress(litestream.LitestreamError):
        litestream_bin = litestream.find_litestream(env)
    return Backups(
        layout=layout,
        sources=sources(root, env),
        restic=Restic(find_restic(env), layout.repository, layout.password_file, layout.cache),
        ctx=Context(root=root, now=lambda: datetime.now(UTC)),
        interval_seconds=interval_from_env(env),
        litestream_bin=litestream_bin,
    )
