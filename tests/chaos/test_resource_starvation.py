"""Scenario 6, resource starvation, on `make up FAST=1`'s stack: a small
loop-mounted ext4 filesystem the test creates, filled past HostDiskSpaceLow's
threshold (less than 10 % free) with stale temporary files → the system
exporter reports the mount, the rule fires for that mountpoint → the test's
`cleanup_disk` playbook deletes `*.tmp` older than a minute under that mount
only → free space back above the threshold → recovered.

The stack runs the test's own playbook ahead of the shipped ones (`--playbooks`),
matching this mountpoint alone: other filesystems of the machine that happen to
be low keep the shipped playbook (a dry run). Skipped, with the kernel's
reason, where loop mounts are not allowed.

The other half of the scenario, a memory hog in one service, is
tests/chaos/test_resource_hog.py: one process group's alert, not the whole
host's, which a test on a shared machine could not drive past HostCpuHigh or
HostMemoryHigh without starving everything else on it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from integration.launcher import RECOVERED, Launched, launched
from support.faults import FaultUnavailable, fill, small_filesystem
from support.procs import wait_until

from alert_webhook.remediation.playbooks import DEFAULT_PLAYBOOK_FILE
from chaos.results import PLAN_RTO_SECONDS, record

TOKEN = "chaos-starvation-token"
# HostDiskSpaceLow: less than this share of the filesystem free.
THRESHOLD = 0.1
GOAL_RECOVERY_SECONDS = 30.0
STALE = 600.0  # the temporary files' age: left behind ten minutes ago
pytestmark = pytest.mark.timeout(240)


@dataclass(frozen=True)
class Starvable:
    stack: Launched
    mount: Path


def cleanup_playbook(mount: Path) -> dict[str, Any]:
    """resource_exhaustion → cleanup: stale temporary files on this mount only."""
    return {
        "name": "clean-test-disk",
        "match": {"alertname": "HostDiskSpaceLow", "mountpoint": str(mount)},
        "target": ["instance", "mountpoint"],
        "actions": [
            {
                "action": "cleanup_disk",
                "params": {"roots": [str(mount)], "patterns": ["*.tmp"], "older_than": "1m"},
                "timeout": "30s",
            }
        ],
        "cooldown": "5s",
        "max_attempts": 3,
        "window": "1h",
        "blast_radius": 1,
    }


@contextlib.contextmanager
def starvable_stack(base: Path) -> Iterator[Starvable]:
    """A small filesystem, and a stack under `base` whose own playbook cleans it
    (FaultUnavailable where mounting is not allowed)."""
    with small_filesystem() as mount:
        playbooks = yaml.safe_load(DEFAULT_PLAYBOOK_FILE.read_text())
        playbooks["playbooks"].insert(0, cleanup_playbook(mount))
        path = base / "playbooks.yml"
        path.write_text(yaml.safe_dump(playbooks, sort_keys=False))
        root = base / "stack"
        root.mkdir()
        with launched(root, TOKEN, ["--fast", f"--playbooks={path}"]) as stack:
            yield Starvable(stack, mount)


@pytest.fixture(scope="module")
def starvable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starvable]:
    try:
        with starvable_stack(tmp_path_factory.mktemp("starvation")) as starvable:
            yield starvable
    except FaultUnavailable as exc:
        pytest.skip(f"loop mounts are not allowed here: {exc}")


def free_ratio(mount: Path) -> float:
    usage = shutil.disk_usage(mount)
    return usage.free / usage.total


def cleanup_runs(stack: Launched, since: float) -> list[dict[str, Any]]:
    return [r for r in stack.remediations()
            if r["playbook"] == "clean-test-disk" and r["planned_at"] >= since]  # fmt: skip


def fired(stack: Launched, alert_id: int) -> dict[str, Any]:
    response = requests.get(stack.url("webhook", "/api/alerts"), params={"limit": 1000}, timeout=5)
    response.raise_for_status()
    return next(a for a in response.json()["alerts"] if a["id"] == alert_id)


@dataclass(frozen=True)
class Starved:
    run: dict[str, Any]  # clean-test-disk's run
    recovery_seconds: float  # filled → the run verified and the space free again
    stale: Path  # the stale temporary file that filled the mount
    kept: Path  # a file of another kind beside it


def starve_once(starvable: Starvable) -> Starved:
    """Fill the mount past the threshold with a stale temporary file and wait
    for clean-test-disk to free it."""
    stack, mount = starvable.stack, starvable.mount
    kept = mount / "orders.dat"
    kept.write_bytes(b"\0" * (1 << 20))  # not a temporary file: never deleted
    os.utime(kept, (time.time() - STALE,) * 2)
    filled_at = time.time()
    stale = fill(mount, leave_free=THRESHOLD / 2, name="export.tmp")
    os.utime(stale, (filled_at - STALE,) * 2)
    assert free_ratio(mount) < THRESHOLD

    def recovered() -> dict[str, Any] | None:
        done = [r for r in cleanup_runs(stack, filled_at) if r["status"] == RECOVERED]
        return done[0] if done and free_ratio(mount) > THRESHOLD else None

    wait_until(lambda: recovered() is not None, 60, "clean-test-disk to free the filesystem")
    recovery_seconds = time.time() - filled_at
    run = recovered()
    assert run is not None
    return Starved(run, recovery_seconds, stale, kept)


def test_a_full_filesystem_is_cleaned_through_the_alert_path(starvable: Starvable) -> None:
    stack, mount = starvable.stack, starvable.mount
    starved = starve_once(starvable)
    run, recovery_seconds = starved.run, starved.recovery_seconds
    alert = fired(stack, run["alert_id"])
    assert (alert["alertname"], alert["labels"]["mountpoint"]) == ("HostDiskSpaceLow", str(mount))
    [step] = run["steps"]
    assert (step["action"], step["status"]) == ("cleanup_disk", "succeeded")
    assert not starved.stale.exists() and starved.kept.exists()
    print(f"\nresource starvation (disk): {mount} {1 - THRESHOLD / 2:.0%} full; recovered in "
          f"{recovery_seconds:.1f} s")  # fmt: skip
    record("resource_starvation_disk", recovery_seconds, PLAN_RTO_SECONDS["high"])
    assert recovery_seconds <= GOAL_RECOVERY_SECONDS
