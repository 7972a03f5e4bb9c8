"""One drill: the scenarios run one after another against the live stack, then
recorded whole in the webhook's store (`POST /api/drills`, one transaction), or
not at all. One drill at a time per stack (var/drill/lock)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import xmlrpc.client
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import requests

from alert_webhook.drills.record import DrillReport, ScenarioResult
from stack.drill.live import LiveStack
from stack.drill.scenarios import SCENARIOS, UNSAFE, DrillContext, Scenario


class DrillRefused(Exception):
    """Why no drill runs, in one line."""


def chosen(names: Sequence[str]) -> list[str]:
    """The scenarios asked for, checked: each known and safe on a live stack."""
    safe = ", ".join(SCENARIOS)
    problems = []
    for name in names:
        if name in UNSAFE:
            problems.append(
                f"{name} is not safe on a live stack: {UNSAFE[name]} (make chaos runs it)"
            )
        elif name not in SCENARIOS:
            problems.append(f"no scenario named {name!r} (safe on a live stack: {safe})")
    if problems:
        raise DrillRefused("; ".join(problems))
    return list(dict.fromkeys(names)) or list(SCENARIOS)


@contextlib.contextmanager
def one_at_a_time(root: Path) -> Iterator[None]:
    """Hold var/drill/lock for the drill; DrillRefused naming the one running."""
    folder = root / "var" / "drill"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            pid = lock.read().strip() or "unknown"
            raise DrillRefused(f"a drill is already running from {root} (pid {pid})") from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        yield


def summary(result: ScenarioResult) -> str:
    verdict = "passed" if result.ok else "FAILED"
    took = f", recovered in {result.recovery_seconds:.1f} s" if result.recovery_seconds else ""
    return f"{result.scenario}: {verdict}{took}: {result.detail}"


def run_drill(
    live: LiveStack,
    names: Sequence[str],
    trigger: str,
    ctx: DrillContext,
    scenarios: Mapping[str, Scenario] = SCENARIOS,
) -> DrillReport:
    """Each scenario in turn; a scenario that breaks off (the stack stopped
    answering) is a failed result, never a half-run drill."""
    started = ctx.clock()
    results = []
    for name in names:
        print(f"stack drill: {name} ...", file=ctx.out, flush=True)
        begun = ctx.clock()
        try:
            result = scenarios[name].run(live, ctx)
        except (requests.RequestException, OSError, xmlrpc.client.Error, RuntimeError) as exc:
            result = ScenarioResult(scenario=name, ok=False, started_at=begun,
                                    finished_at=max(begun, ctx.clock()),
                                    detail=f"broke off: {exc}"[:4000])  # fmt: skip
        print(f"stack drill: {summary(result)}", file=ctx.out, flush=True)
        results.append(result)
    finished = max(started, ctx.clock())
    return DrillReport(started_at=started, finished_at=finished, trigger=trigger, results=results)  # type: ignore[arg-type]


def record(live: LiveStack, report: DrillReport) -> int:
    """The drill in the webhook's store; its id. requests' errors when it is not."""
    answer = live.post("/api/drills", report.model_dump(mode="json"))
    return int(answer["id"])
