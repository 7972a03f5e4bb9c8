"""The figures each chaos test measured, one JSON line per scenario run.

A test calls `record(...)` once it has recovered; the line goes to the file
named by $CHAOS_RESULTS (`make chaos` sets it and prints the table from it), or
nowhere when the variable is unset, so `make test` leaves no file behind. The
plan's objectives live here too, so a test compares against the plan's words
(the severity of what fired), not a number of its own.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS_ENV = "CHAOS_RESULTS"
# The plan's recovery time objectives, by the severity of the alert that fired.
PLAN_RTO_SECONDS = {"critical": 300.0, "high": 900.0, "medium": 3600.0, "low": 14400.0}
# The plan's recovery point objective for critical data (the demo's orders).
PLAN_RPO_CRITICAL_SECONDS = 60.0


@dataclass(frozen=True)
class Result:
    scenario: str
    recovery_seconds: float
    rto_seconds: float
    # Seconds of writes lost, where the scenario involves data; None otherwise.
    data_lost: float | None = None
    rpo_seconds: float | None = None
    recorded_at: float = 0.0


def record(
    scenario: str,
    recovery_seconds: float,
    rto_seconds: float,
    data_lost: float | None = None,
    rpo_seconds: float | None = None,
    env: Mapping[str, str] = os.environ,
    clock: float | None = None,
) -> Result:
    """Append one result to $CHAOS_RESULTS (if set) and return it."""
    result = Result(
        scenario,
        round(recovery_seconds, 3),
        rto_seconds,
        data_lost,
        rpo_seconds,
        time.time() if clock is None else clock,
    )
    if path := env.get(RESULTS_ENV, "").strip():
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a") as out:
            out.write(json.dumps(asdict(result)) + "\n")
    return result


def read(path: Path) -> list[Result]:
    """Every result in `path`, oldest first; none when it does not exist."""
    if not path.is_file():
        return []
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return [Result(**json.loads(line)) for line in lines]
