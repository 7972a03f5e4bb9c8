"""What the in-process bench scripts share: wall-clock samples, their summary,
and the JSON file each run leaves under bench/results/. Not a bench itself
(`make bench` runs only the scripts without a leading underscore)."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def timed(fn: Callable[[], object], times: int) -> list[float]:
    """Milliseconds each of `times` calls of `fn` took."""
    taken = []
    for _ in range(times):
        start = time.perf_counter()
        fn()
        taken.append((time.perf_counter() - start) * 1000)
    return taken


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median": statistics.median(ordered), "p90": ordered[int(len(ordered) * 0.9) - 1],
            "max": ordered[-1]}  # fmt: skip


def write_result(name: str, result: dict[str, Any]) -> Path:
    """`result` as bench/results/<name>-<epoch>.json; the path written."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}-{int(time.time())}.json"
    out.write_text(json.dumps(result, indent=2))
    return out
