"""A real PostgreSQL server on a free loopback port, for the store's tests.

Needs PostgreSQL's binaries (`PG_BIN`; by default the newest version under
Debian's /usr/lib/postgresql) and root, to run them as the `postgres` user;
`unavailable()` says why not otherwise.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from support.procs import free_port
from toolkit.programs import newest_postgresql_bin

PG_BIN = (
    Path(os.environ["PG_BIN"])
    if os.environ.get("PG_BIN")
    else newest_postgresql_bin("postgres") or Path("/usr/lib/postgresql/15/bin")
)
# Every table of the webhook's store, children first; emptied between tests.
TABLES = (
    "digests, drill_results, drills, fleet_pauses, follow_ups, recurring_heals, failover_state, "
    "remediation_steps, remediation_runs, deliveries, "
    "incidents, flapping, "
    "heartbeats, alert_events, alerts, notifications"
)


def unavailable() -> str | None:
    """Why a server cannot be started here, or None when it can."""
    if not (PG_BIN / "postgres").exists():
        return f"PostgreSQL binaries not found in {PG_BIN} (set PG_BIN)"
    if os.geteuid() != 0 or not shutil.which("runuser"):
        return "root and runuser are needed to run PostgreSQL as the postgres user"
    return None


def _as_postgres(*argv: str) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, timeout=60
    )


@contextlib.contextmanager
def server() -> Iterator[str]:
    """A throw-away cluster (fsync off) until the block ends; yields its SQLAlchemy URL."""
    base = Path(tempfile.mkdtemp(prefix="pg-webhook-"))
    base.chmod(0o755)
    data = base / "data"
    shutil.chown(base, "postgres")
    port = free_port()
    _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    _as_postgres(
        str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start"
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)
