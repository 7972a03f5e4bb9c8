"""A real PostgreSQL server on a free loopback port, for the store's tests.

Needs PostgreSQL's binaries (`PG_BIN`; by default the newest version under
Debian's /usr/lib/postgresql) and root, to run them as the `postgres` user;
`unavailable()` says why not otherwise.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Cluster:
    url: str  # its SQLAlchemy URL
    data: Path  # its data folder

    def pids(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, …)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = [
            int(stat.parent.name)
            for stat in Path("/proc").glob("[0-9]*/stat")
            if _parent(stat) == postmaster
        ]
        return [postmaster, *children]

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """Every process of the server stopped (SIGSTOP) until the block ends: alive,
        its sockets open, answering nothing. Always continued (SIGCONT) after."""
        stopped: list[int] = []
        try:
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
                    stopped.append(pid)
            yield
        finally:
            for pid in stopped:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)


def _parent(stat: Path) -> int | None:
    try:
        # The command may hold spaces and parentheses: the fields follow the last ")".
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


@contextlib.contextmanager
def cluster() -> Iterator[Cluster]:
    """A throw-away cluster (fsync off) until the block ends."""
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
        yield Cluster(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", data)
    finally:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def server() -> Iterator[str]:
    """A throw-away cluster (fsync off) until the block ends; yields its SQLAlchemy URL."""
    with cluster() as running:
        yield running.url
