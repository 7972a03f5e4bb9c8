"""README's "Try it", taken step by step on a real stack and timed hop by hop.

    .venv/bin/python bench/try_it.py [--fast] [--steps queue,slow,reset,die]
        [--screenshots docs/images]

Starts `python -m stack up` (the default profile, the plan's windows, unless
`--fast`) on free ports under a temporary root, waits until nothing fires, then
takes README's steps in order, each one the same chaos call README gives:

- `queue`: 150 queued tasks → TaskQueueDepthHigh → `drain-task-queue`;
- `slow`: every call 6 s and one in five failing → ErrorRateHigh and
  ApiResponseTimeHigh → `restart-demo`, which a slowness kept in the demo's
  chaos file outlasts;
- `reset`: everything healthy again → those alerts resolve;
- `die`: the demo exits → ServiceUnavailable → `restart-demo`.

Each second it asks every hop about the step's alerts and notes, in seconds
after the step's chaos call, when each was first seen: pending and firing in
Prometheus, active in Alertmanager, recorded firing by the webhook (what the
console and its JSON API show), every remediation run planned for it (and when
it ended, how), then cleared in Prometheus and resolved at the webhook. A step
ends when its alerts are resolved at the webhook (`slow`: when they fire and
every run for them has ended) or at its time limit, which is reported, not
fatal. Prints one table and writes it as JSON under bench/results/. Never part
of the test suite: the default profile takes about 40 minutes.

With `--screenshots FOLDER`, once the `slow` step is done (the richest moment:
alerts firing, a restart tried and judged) the console is photographed as the
logged-in operator sees it, at desktop width and at 390 px, in Debian's
Chromium (`CHROMIUM_BIN`): README's pictures are these.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recovery_time import ROOT, Stack  # noqa: E402

POLL_S = 1.0
HOPS = (
    "pending", "firing", "alertmanager", "webhook", "cleared", "resolved",
)  # fmt: skip


@dataclass(frozen=True)
class Step:
    name: str
    path: str
    body: dict[str, Any] | None
    alerts: tuple[str, ...]
    # False: the step ends once its alerts fire and their runs have ended.
    resolves: bool
    limit_s: float


STEPS = {
    "queue": Step("queue", "/chaos", {"queue_depth": 150}, ("TaskQueueDepthHigh",), True, 900),
    "slow": Step(
        "slow",
        "/chaos",
        {"latency_seconds": 6, "error_ratio": 0.2},
        ("ErrorRateHigh", "ApiResponseTimeHigh"),
        False,
        1500,
    ),  # fmt: skip
    "reset": Step(
        "reset", "/chaos/reset", None, ("ErrorRateHigh", "ApiResponseTimeHigh"), True, 900
    ),
    "die": Step("die", "/chaos/die", None, ("ServiceUnavailable",), True, 900),
}


@dataclass
class Seen:
    """When each hop first showed one alert, in seconds after the step's cause."""

    hops: dict[str, float] = field(default_factory=dict)
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    # The webhook's ids of the alert's records (a run names the alert by id).
    ids: set[int] = field(default_factory=set)

    def note(self, hop: str, at: float) -> None:
        self.hops.setdefault(hop, round(at, 1))


def _demo(labels: dict[str, str]) -> bool:
    return labels.get("service") == "demo" or labels.get("job") == "demo"


class Watch:
    """One poll of every hop for the alerts of one step."""

    def __init__(
        self, stack: Stack, token: str, step: Step, cause: float, carried: dict[str, Seen]
    ) -> None:
        self.stack, self.token, self.step, self.cause = stack, token, step, cause
        # `reset` watches the alerts `slow` raised: already firing when it starts.
        self.seen = {name: carried.get(name, Seen()) for name in step.alerts}
        self.firing_before = {n for n, s in self.seen.items() if "webhook" in s.hops}
        for seen in self.seen.values():
            seen.hops = {h: t for h, t in seen.hops.items() if h not in ("cleared", "resolved")}

    def _get(self, service: str, path: str) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if service == "webhook" else {}
        response = requests.get(self.stack.url(service, path), headers=headers, timeout=5)
        response.raise_for_status()
        return response.json()

    def poll(self) -> None:
        at = time.time() - self.cause
        prometheus = self._get("prometheus", "/api/v1/alerts")["data"]["alerts"]
        manager = self._get("alertmanager", "/api/v2/alerts")
        webhook = self._get("webhook", "/api/alerts?status=firing&limit=1000")["alerts"]
        runs = self._get("webhook", "/api/remediations")["remediations"]
        for name, seen in self.seen.items():
            states = {a["state"] for a in prometheus
                      if a["labels"].get("alertname") == name and _demo(a["labels"])}  # fmt: skip
            for state in states & {"pending", "firing"}:
                seen.note(state, at)
            if any(a["labels"].get("alertname") == name and _demo(a["labels"]) for a in manager):
                seen.note("alertmanager", at)
            firing = [a for a in webhook if a["alertname"] == name and _demo(a["labels"])]
            if firing:
                seen.note("webhook", at)
                seen.ids.update(a["id"] for a in firing)
            if ("firing" in seen.hops or name in self.firing_before) and not states:
                seen.note("cleared", at)
            if ("webhook" in seen.hops) and not firing:
                seen.note("resolved", at)
            for run in runs:
                if run["alert_id"] in seen.ids and run["planned_at"] >= self.cause - 5:
                    seen.runs[run["id"]] = {
                        "playbook": run["playbook"],
                        "planned": round(run["planned_at"] - self.cause, 1),
                        "ended": None
                        if not run["finished_at"]
                        else round(run["finished_at"] - self.cause, 1),
                        "status": run["status"],
                        "detail": run.get("detail"),
                    }

    def done(self) -> bool:
        """Every run for the step's alerts has ended, and its alerts resolved (or,
        for a step that does not resolve them, fired and were acted on)."""
        seen = self.seen.values()
        ended = all(r["ended"] is not None for s in seen for r in s.runs.values())
        if self.step.resolves:
            return ended and all("resolved" in s.hops for s in seen)
        return ended and all("webhook" in s.hops for s in seen) and any(s.runs for s in seen)


def take(stack: Stack, token: str, step: Step, carried: dict[str, Seen]) -> dict[str, Any]:
    cause = time.time()
    response = requests.post(stack.url("demo", step.path), json=step.body, timeout=10)
    response.raise_for_status()
    watch = Watch(stack, token, step, cause, carried)
    print(f"{step.name}: {step.path} {json.dumps(step.body) if step.body else ''}", flush=True)
    while time.time() - cause < step.limit_s and not watch.done():
        try:
            watch.poll()
        except requests.RequestException as exc:
            print(f"  poll failed: {exc}", flush=True)
        time.sleep(POLL_S)
    carried.update(watch.seen)
    finished = watch.done()
    print(f"  {'done' if finished else 'TIME LIMIT'} after {time.time() - cause:.0f} s", flush=True)
    return {
        "step": step.name, "done": finished,
        "alerts": {n: {"hops": s.hops, "runs": list(s.runs.values())}
                   for n, s in watch.seen.items()},
    }  # fmt: skip


def photograph(stack: Stack, root: Path, folder: Path) -> None:
    """The console, logged in, at both widths (README's pictures)."""
    from browser.conftest import CHROMIUM_FLAGS, chromium_path
    from browser.pages import DESKTOP, PHONE
    from playwright.sync_api import sync_playwright

    login = yaml.safe_load((root / "var" / "run" / "webhook-login").read_text())
    folder.mkdir(parents=True, exist_ok=True)
    console = stack.url("webhook", "/")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            for name, viewport in (("console-desktop.png", DESKTOP), ("console-390.png", PHONE)):
                page = browser.new_context(viewport=viewport).new_page()
                page.goto(stack.url("webhook", "/login?next=/"))
                page.fill("input[name=name]", login["name"])
                page.fill("input[name=password]", login["password"])
                page.click("button[type=submit]")
                page.wait_for_url(console)
                page.screenshot(path=str(folder / name), full_page=True)
                print(f"  photographed {folder / name}", flush=True)
        finally:
            browser.close()


def healthy(stack: Stack) -> Callable[[], bool]:
    def check() -> bool:
        alerts = requests.get(stack.url("prometheus", "/api/v1/alerts"), timeout=5).json()
        return not [a for a in alerts["data"]["alerts"]
                    if a["labels"].get("alertname") != "Watchdog"]  # fmt: skip

    return check


def table(results: list[dict[str, Any]]) -> None:
    print(f"\n{'step':<7}{'alert':<22}" + "".join(f"{h:>13}" for h in HOPS) + "  automation")
    for result in results:
        for name, seen in result["alerts"].items():
            hops = "".join(
                f"{seen['hops'][h]:>13.0f}" if h in seen["hops"] else f"{'-':>13}" for h in HOPS
            )
            runs = (
                "; ".join(
                    f"{r['playbook']} planned {r['planned']:.0f}, "
                    + (
                        f"{r['status']} at {r['ended']:.0f}"
                        if r["ended"] is not None
                        else "running"
                    )
                    for r in seen["runs"]
                )
                or "none"
            )
            print(f"{result['step']:<7}{name:<22}{hops}  {runs}")
    print("(seconds after the step's chaos call; '-': not seen within the step)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="the fast profile (1 s windows)")
    parser.add_argument("--steps", default=",".join(STEPS), help="which steps, in this order")
    parser.add_argument("--screenshots", type=Path, help="photograph the console after `slow`")
    args = parser.parse_args()
    steps = [STEPS[name] for name in args.steps.split(",")]
    profile = "fast" if args.fast else "default"
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="try-it-") as tmp:
        stack = Stack(Path(tmp), fast=args.fast)
        try:
            token = (Path(tmp) / "var" / "run" / "webhook-token").read_text().strip()
            started = time.time()
            while not healthy(stack)() and time.time() - started < 600:
                time.sleep(5)
            carried: dict[str, Seen] = {}
            for step in steps:
                results.append(take(stack, token, step, carried))
                if step.name == "slow" and args.screenshots is not None:
                    photograph(stack, Path(tmp), args.screenshots)
        finally:
            stack.stop()
    table(results)
    out = ROOT / "bench" / "results" / f"try_it-{profile}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"profile": profile, "steps": results}, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")
    return 0 if all(r["done"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
