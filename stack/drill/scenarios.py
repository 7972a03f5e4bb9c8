"""The scenarios a drill may run on the live stack, and why the others may not.

Safe on a live stack means: no customer request fails because of it, no data
is lost or replaced, and should the stack's own recovery fail the drill leaves
things as it found them. Two of the chaos scenarios (docs/recovery.md) pass:

- `restore-test` (the plan's weekly restoration test): each SQLite store's
  Litestream replica restored into a scratch folder, checked with SQLite's
  integrity_check, and the orders compared with the live file: every order the
  copy holds is the live one, none is missing below its newest, and it is at
  most the plan's RPO for critical data behind. Reads the live stores only.
- `service-kill` (scenario 1, the monthly full-recovery drill): the orders
  worker `demo_worker` killed with kill -9; recovered when the stack's own
  `restart-demo-worker` run is verified and the worker answers, within the
  plan's RTO for its critical alert. The API keeps taking orders meanwhile
  (they queue in the file), so no customer sees it; if the playbook does not
  bring it back in time, the drill starts it itself and fails.

Each scenario's `run` returns its result and never raises for a failed
recovery; the boundaries (clock, sleep, the live stack) are passed in.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import yaml

from alert_webhook.app.actions import registered_actions
from alert_webhook.drills.record import ScenarioResult
from alert_webhook.remediation.playbooks import load_playbooks
from stack.backups import litestream
from stack.backups.sources import BackupLayout, sources, sqlite_sources
from stack.backups.sqlite import integrity_problems
from stack.drill.live import LiveStack
from stack.supervisor import Layout

# The plan's objectives the scenarios are held to: RTO for a critical alert
# (ServiceUnavailable), RPO for critical data (the orders).
CRITICAL_RTO_SECONDS = 300.0
CRITICAL_RPO_SECONDS = 60.0
VERIFIED = "verified"


@dataclass(frozen=True)
class DrillContext:
    env: Mapping[str, str]
    out: IO[str]
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


class Scenario(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def summary(self) -> str: ...

    def run(self, live: LiveStack, ctx: DrillContext) -> ScenarioResult: ...


def _result(name: str, started: float, ctx: DrillContext, ok: bool, detail: str,
            recovery: float | None = None) -> ScenarioResult:  # fmt: skip
    return ScenarioResult(
        scenario=name, ok=ok, started_at=started, finished_at=max(started, ctx.clock()),
        recovery_seconds=recovery, detail=detail[:4000],
    )  # fmt: skip


# --- restore-test -----------------------------------------------------------------

Row = tuple[Any, ...]


def _orders(path: Path) -> dict[int, Row]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
        rows = db.execute("SELECT id, item, quantity, backend, created_at FROM orders").fetchall()
    return {int(row[0]): tuple(row[1:]) for row in rows}


def compare_orders(live: Path, copy: Path, before: float, rpo: float) -> tuple[list[str], str]:
    """The copy of the orders against the live file as of `before` (when the
    restore began): problems, and what it found in words."""
    restored, current = _orders(copy), _orders(live)
    problems = []
    newest = max(restored, default=0)
    missing = [i for i in current if i <= newest and i not in restored]
    unknown = [i for i in restored if i not in current]
    differ = [i for i in restored if i in current and restored[i] != current[i]]
    for what, ids in (("missing from the copy", missing), ("not in the live file", unknown),
                      ("different in the copy", differ)):  # fmt: skip
        if ids:
            problems.append(f"orders: {len(ids)} order(s) {what} (ids {sorted(ids)[:5]})")
    live_newest = max((r[3] for r in current.values() if r[3] <= before), default=None)
    copy_newest = max((r[3] for r in restored.values()), default=None)
    behind = 0.0
    if live_newest is not None:
        behind = max(0.0, live_newest - (copy_newest if copy_newest is not None else 0.0))
    if behind > rpo:
        problems.append(
            f"orders: the copy is {behind:.1f} s behind the live file (RPO {rpo:.0f} s)"
        )
    said = (
        f"orders: {len(restored)} restored, each identical to the live file's, "
        f"{behind:.1f} s behind it (RPO {rpo:.0f} s)"
    )
    return problems, said


@dataclass(frozen=True)
class RestoreTest:
    name: str = "restore-test"
    summary: str = (
        "the SQLite stores restored from their Litestream replicas into scratch and checked, "
        "the orders compared with the live file; reads the live stores only"
    )
    rpo_seconds: float = CRITICAL_RPO_SECONDS

    def run(self, live: LiveStack, ctx: DrillContext) -> ScenarioResult:
        started = ctx.clock()
        try:
            binary = litestream.find_litestream(ctx.env)
        except litestream.LitestreamError as exc:
            return _result(self.name, started, ctx, False, str(exc))
        replicas = BackupLayout(live.root).replicas
        scratch = live.root / "var" / "drill" / "scratch"
        shutil.rmtree(scratch, ignore_errors=True)
        problems, said = [], []
        try:
            for store in sqlite_sources(sources(live.root, ctx.env)):
                copy = scratch / store.name / store.filename
                copy.parent.mkdir(parents=True)
                try:
                    litestream.restore(binary, replicas, store, copy, None)
                except litestream.LitestreamError as exc:
                    problems.append(str(exc))
                    continue
                if found := integrity_problems(copy, store.name):
                    problems += found
                elif store.path == Layout(live.root).orders:
                    found, words = compare_orders(store.path, copy, started, self.rpo_seconds)
                    problems += found
                    said.append(words)
                else:
                    said.append(f"{store.name}: restored and integrity_check ok")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        took = ctx.clock() - started
        if problems:
            return _result(self.name, started, ctx, False, "; ".join(problems))
        detail = f"restored from the Litestream replicas into scratch: {'; '.join(said)}"
        return _result(self.name, started, ctx, True, detail, took)


# --- service-kill -----------------------------------------------------------------


def guardrails_allow_at(root: Path, runs: list[dict[str, Any]], playbook: str) -> float:
    """The wall time after which `playbook`'s cooldown and attempt budget (of the
    file the running webhook uses), given its `runs`, let a new run through."""
    settings = yaml.safe_load((Layout(root).run / "webhook.yml").read_text()) or {}
    books = load_playbooks(Path(settings["remediation"]["playbooks_file"]), registered_actions())
    book = next(p for p in books.playbooks if p.name == playbook)
    started = sorted(r["started_at"] for r in runs if r["started_at"] is not None)
    at = started[-1] + book.cooldown if started else 0.0
    if len(started) >= book.max_attempts:
        at = max(at, started[-book.max_attempts] + book.window)
    return at + 0.5 if started else 0.0


@dataclass(frozen=True)
class ServiceKill:
    name: str = "service-kill"
    summary: str = (
        "kill -9 the orders worker, recovered by its playbook within the plan's RTO; the API "
        "keeps taking orders meanwhile, and a failed recovery is undone by the drill"
    )
    program: str = "demo_worker"
    playbook: str = "restart-demo-worker"
    rto_seconds: float = CRITICAL_RTO_SECONDS
    # Waited at most for the playbook's guardrails (a restart just before).
    max_guardrail_wait: float = 600.0
    poll: float = 0.5

    def _runs(self, live: LiveStack, since: float) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = live.get("/api/remediations")["remediations"]
        return [r for r in runs if r["playbook"] == self.playbook and r["planned_at"] >= since]

    def run(self, live: LiveStack, ctx: DrillContext) -> ScenarioResult:
        started = ctx.clock()
        if live.pid(self.program) is None or not live.answers(self.program):
            start = f"python -m stack ctl start {self.program}"
            return _result(self.name, started, ctx, False,
                           f"{self.program} was not running and answering before the drill: "
                           f"nothing to prove (start it: {start})")  # fmt: skip
        allow = guardrails_allow_at(live.root, self._runs(live, 0.0), self.playbook)
        wait = max(0.0, allow - ctx.clock())
        if wait > self.max_guardrail_wait:
            return _result(self.name, started, ctx, False,
                           f"{self.playbook}'s cooldown and attempt budget would block a restart "
                           f"for {wait:.0f} s more: not killed; run the drill later")  # fmt: skip
        if wait:
            print(f"  waiting {wait:.0f} s for {self.playbook}'s cooldown", file=ctx.out)
            ctx.sleep(wait)
        killed_at = ctx.clock()
        pid = live.kill(self.program)
        deadline = killed_at + self.rto_seconds
        runs: list[dict[str, Any]] = []
        while ctx.clock() < deadline:
            runs = self._runs(live, killed_at)
            done = [r for r in runs if r["status"] == VERIFIED]
            if done and live.answers(self.program):
                took, run_id = ctx.clock() - killed_at, done[-1]["id"]
                return _result(self.name, started, ctx, True,
                               f"{self.program} killed (pid {pid}), restarted by {self.playbook} "
                               f"(run {run_id}, verified) and answering again", took)  # fmt: skip
            ctx.sleep(self.poll)
        live.start(self.program)
        seen = ", ".join(f"run {r['id']} {r['status']}" for r in runs) or "no run"
        return _result(self.name, started, ctx, False,
                       f"{self.program} killed (pid {pid}) was not recovered within the plan's RTO "
                       f"of {self.rto_seconds:.0f} s ({self.playbook}: {seen}); the drill started "
                       "it again through supervisord")  # fmt: skip


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (RestoreTest(), ServiceKill())}

# The chaos scenarios a drill never runs on a live stack, and why (tests/chaos
# and `make chaos` run them on a stack started for breaking).
UNSAFE = {
    "multi-service-kill": "it stops the orders API too: customers' orders are refused until "
    "it is back",
    "complete-failure": "it kills supervisord and the launcher: nothing would be left to "
    "recover the stack or to record the drill",
    "data-corruption": "it garbles the live orders file, and the restore replaces that file "
    "(losing up to a second of orders)",
    "network-partition": "it needs a network namespace (root) and moves the live dependency "
    "behind a link it cuts",
    "resource-starvation": "it loop-mounts a filesystem (root) and fills it",
    "memory-hog": "it holds 256 MiB in the live API and fires only at the fast profile's "
    "192 MiB limit (the plan's is 1 GiB)",
    "dependency-failure": "it fails every dependency instance in turn: orders fail outright "
    "once the tertiary does, and people are paged for the failed failover",
}
