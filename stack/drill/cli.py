"""`python -m stack drill [--scenarios NAME,...] [--root DIR] [--list]` and
`python -m stack drill-schedule` (what `make up` runs when STACK_DRILL_SCHEDULE is set)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import requests

from stack.drill.live import LiveStack, NoStack, find_live
from stack.drill.run import DrillRefused, chosen, one_at_a_time, record, run_drill
from stack.drill.scenarios import SCENARIOS, UNSAFE, DrillContext
from stack.drill.schedule import (
    ScheduleError,
    Scheduler,
    publish,
    schedule_from_env,
    scheduled_since,
)
from stack.supervisor import Layout

HELP = (
    ("drill", "the recovery drill: the scenarios safe on the running stack, recorded"),
    ("drill-schedule", "drills on STACK_DRILL_SCHEDULE's schedule (make up runs it when set)"),
)  # fmt: skip
COMMANDS = tuple(name for name, _text in HELP)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m stack")
    commands = top.add_subparsers(dest="command", required=True)
    for name, text in HELP:
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--root", type=Path, default=Path.cwd(), help="folder that holds var/")
    drill = commands.choices["drill"]
    drill.add_argument(
        "--scenarios", action="append", default=[], metavar="NAME,...",
        help=f"the scenarios to run (default: all safe ones: {', '.join(SCENARIOS)})",
    )  # fmt: skip
    drill.add_argument(
        "--list", action="store_true", help="list the scenarios, safe or not, and why"
    )
    return top


def list_scenarios(out: IO[str]) -> int:
    for name, scenario in SCENARIOS.items():
        print(f"{name}: safe on a live stack: {scenario.summary}", file=out)
    for name, why in UNSAFE.items():
        print(f"{name}: not run by a drill: {why}", file=out)
    return 0


def drill_once(
    live: LiveStack, names: list[str], trigger: str, ctx: DrillContext, err: IO[str]
) -> int:
    """Run, record, say where; 0 when every scenario passed and the drill is on record."""
    with one_at_a_time(live.root):
        report = run_drill(live, names, trigger, ctx)
        try:
            drill_id = record(live, report)
        except (requests.RequestException, KeyError, ValueError) as exc:
            print(f"stack drill: NOT recorded (the webhook refused or did not answer: {exc}); "
                  "nothing of this drill is stored", file=err)  # fmt: skip
            return 1
    verdict = "passed" if report.ok else "FAILED"
    print(f"stack drill: {verdict}; recorded as drill {drill_id}: "
          f"{live.url('webhook', '/drills')}", file=ctx.out)  # fmt: skip
    return 0 if report.ok else 1


def last_runs(root: Path, env: Mapping[str, str]) -> dict[str, float] | None:
    try:
        found = find_live(root, env).get("/api/drills/scenarios")["scenarios"]
    except (NoStack, requests.RequestException, KeyError, ValueError):
        return None
    return {s["scenario"]: float(s["last_run_at"]) for s in found}


def schedule_loop(root: Path, env: Mapping[str, str], out: IO[str], err: IO[str]) -> int:
    schedule = schedule_from_env(env)
    if not schedule:
        print("stack drill-schedule: STACK_DRILL_SCHEDULE is off: no drills run", file=out)
        return 0
    layout = Layout(root)
    ctx = DrillContext(env=env, out=out)
    since = scheduled_since(layout.var / "drill", schedule, ctx.clock())
    publish(layout.textfile, schedule, since)
    every = ", ".join(f"{name} every {seconds:.0f} s" for name, seconds in schedule.items())
    print(f"stack drill-schedule: {every}", file=out, flush=True)

    def drill(names: list[str]) -> object:
        try:
            return drill_once(find_live(root, env), names, "schedule", ctx, err)
        except (NoStack, DrillRefused) as exc:
            print(f"stack drill: not run: {exc}", file=err, flush=True)
            return 2

    Scheduler(schedule, since, lambda: last_runs(root, env), drill).loop()
    return 0


def main(
    argv: Sequence[str],
    env: Mapping[str, str] = os.environ,
    out: IO[str] = sys.stdout,
    err: IO[str] = sys.stderr,
) -> int:
    args = parser().parse_args(argv)
    root = args.root.resolve()
    prefix = f"stack {args.command}"
    try:
        if args.command == "drill-schedule":
            return schedule_loop(root, env, out, err)
        if args.list:
            return list_scenarios(out)
        names = chosen(
            [n.strip() for given in args.scenarios for n in given.split(",") if n.strip()]
        )
        live = find_live(root, env)
        return drill_once(live, names, "manual", DrillContext(env=env, out=out), err)
    except (NoStack, DrillRefused, ScheduleError) as exc:
        print(f"{prefix}: {exc}", file=err)
        return 2
