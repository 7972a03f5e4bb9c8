"""One drill: only safe scenarios, one at a time, a scenario that breaks off is a
failed result; the restore test's comparison with the live orders; the kill
scenario on a fake stack and clock (recovered; not recovered, and put back);
no stack → one line and exit 2."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from alert_webhook.drills.record import ScenarioResult
from alert_webhook.remediation.playbooks import DEFAULT_PLAYBOOK_FILE
from stack.drill import cli
from stack.drill.run import DrillRefused, chosen, one_at_a_time, run_drill
from stack.drill.scenarios import DrillContext, ServiceKill, compare_orders


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def ctx(clock: Clock) -> DrillContext:
    return DrillContext(env={}, out=io.StringIO(), clock=clock, sleep=clock.sleep)


def test_only_known_safe_scenarios_are_chosen() -> None:
    assert chosen([]) == ["restore-test", "service-kill"]
    assert chosen(["service-kill", "service-kill"]) == ["service-kill"]
    with pytest.raises(DrillRefused) as caught:
        chosen(["complete-failure", "nope"])
    assert "complete-failure is not safe on a live stack: it kills supervisord" in str(caught.value)
    assert "no scenario named 'nope' (safe on a live stack: restore-test, service-kill)" in str(
        caught.value
    )


def test_one_drill_at_a_time(tmp_path: Path) -> None:
    with (
        one_at_a_time(tmp_path),
        pytest.raises(DrillRefused, match="already running"),
        one_at_a_time(tmp_path),
    ):
        pass
    with one_at_a_time(tmp_path):
        pass


def test_no_stack_is_one_line_and_exit_2(tmp_path: Path) -> None:
    err = io.StringIO()
    assert cli.main(["drill", f"--root={tmp_path}"], env={}, out=io.StringIO(), err=err) == 2
    [line] = err.getvalue().splitlines()
    assert line == (
        f"stack drill: no stack is running from {tmp_path}: start it with `make up` "
        f"(from {tmp_path}, in another terminal), then run this again"
    )


class Broken:
    name = "restore-test"
    summary = "breaks off"

    def run(self, live: Any, context: DrillContext) -> ScenarioResult:
        raise OSError("webhook went away")


def test_a_scenario_that_breaks_off_is_a_failed_result_not_a_half_drill() -> None:
    clock = Clock()
    report = run_drill(None, ["restore-test"], "manual", ctx(clock),  # type: ignore[arg-type]
                       scenarios={"restore-test": Broken()})  # fmt: skip
    [result] = report.results
    assert (result.ok, result.detail, report.ok) == (False, "broke off: webhook went away", False)


def orders_file(path: Path, rows: list[tuple[int, float]]) -> Path:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT, quantity INTEGER, "
                   "backend TEXT, status TEXT, created_at REAL, done_at REAL)")  # fmt: skip
        db.executemany("INSERT INTO orders VALUES (?, 'x', 1, 'primary', 'queued', ?, NULL)", rows)
    return path


def test_the_restored_orders_are_compared_with_the_live_file(tmp_path: Path) -> None:
    live = orders_file(tmp_path / "live.sqlite3", [(1, 10.0), (2, 20.0), (3, 29.0), (4, 99.0)])
    copy = orders_file(tmp_path / "copy.sqlite3", [(1, 10.0), (2, 20.0)])
    problems, said = compare_orders(live, copy, before=30.0, rpo=60.0)
    # Order 4 came after the restore began; order 3 is 9 s of writes the copy lacks.
    assert problems == [] and said.endswith("2 restored, each identical to the live file's, "
                                            "9.0 s behind it (RPO 60 s)")  # fmt: skip
    problems, _ = compare_orders(live, copy, before=30.0, rpo=5.0)
    assert problems == ["orders: the copy is 9.0 s behind the live file (RPO 5 s)"]
    gap = orders_file(tmp_path / "gap.sqlite3", [(1, 10.0), (3, 29.0), (7, 1.0)])
    problems, _ = compare_orders(live, gap, before=30.0, rpo=60.0)
    assert problems == [
        "orders: 2 order(s) missing from the copy (ids [2, 4])",
        "orders: 1 order(s) not in the live file (ids [7])",
    ]


class FakeStack:
    """The live stack as the kill scenario sees it: the worker, its runs."""

    def __init__(self, root: Path, clock: Clock, recovers_after: float | None) -> None:
        self.root, self.clock, self.recovers_after = root, clock, recovers_after
        self.killed_at: float | None = None
        self.started: list[str] = []
        self.runs: list[dict[str, Any]] = []

    def pid(self, program: str) -> int | None:
        return 42

    def answers(self, program: str, path: str = "/healthz") -> bool:
        return self.killed_at is None or self._recovered()

    def _recovered(self) -> bool:
        return (self.recovers_after is not None and self.killed_at is not None
                and self.clock() >= self.killed_at + self.recovers_after)  # fmt: skip

    def kill(self, program: str) -> int:
        self.killed_at = self.clock()
        return 42

    def start(self, program: str) -> None:
        self.started.append(program)

    def get(self, path: str) -> dict[str, Any]:
        runs = list(self.runs)
        if self.killed_at is not None:
            status, at = "verified" if self._recovered() else "verifying", self.killed_at + 1
            runs.append({"id": 9, "playbook": "restart-demo-worker", "status": status,
                         "planned_at": at, "started_at": at})  # fmt: skip
        return {"remediations": runs}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    run = tmp_path / "var" / "run"
    run.mkdir(parents=True)
    settings = {"remediation": {"enabled": True, "playbooks_file": str(DEFAULT_PLAYBOOK_FILE)}}
    (run / "webhook.yml").write_text(yaml.safe_dump(settings))
    return tmp_path


def test_a_killed_worker_recovered_by_its_playbook_passes_with_its_time(root: Path) -> None:
    clock = Clock()
    live = FakeStack(root, clock, recovers_after=8.0)
    result = ServiceKill().run(live, ctx(clock))  # type: ignore[arg-type]
    assert result.ok and result.recovery_seconds == 8.0 and live.started == []
    assert result.detail == ("demo_worker killed (pid 42), restarted by restart-demo-worker "
                             "(run 9, verified) and answering again")  # fmt: skip


def test_a_worker_not_recovered_within_the_rto_fails_and_is_started_again(root: Path) -> None:
    clock = Clock()
    live = FakeStack(root, clock, recovers_after=None)
    result = ServiceKill().run(live, ctx(clock))  # type: ignore[arg-type]
    assert not result.ok and result.recovery_seconds is None
    assert live.started == ["demo_worker"] and clock.now >= 1300.0
    said = "not recovered within the plan's RTO of 300 s (restart-demo-worker: run 9 verifying)"
    assert said in result.detail


def test_the_kill_waits_out_the_playbooks_cooldown_first(root: Path) -> None:
    clock = Clock()
    live = FakeStack(root, clock, recovers_after=5.0)
    # restart-demo-worker restarted it 30 s ago: its 2-minute cooldown holds.
    live.runs = [{"id": 1, "playbook": "restart-demo-worker", "status": "verified",
                  "planned_at": 969.0, "started_at": 970.0}]  # fmt: skip
    result = ServiceKill().run(live, ctx(clock))  # type: ignore[arg-type]
    assert result.ok and live.killed_at == pytest.approx(1090.5)
    live.runs = [dict(live.runs[0], started_at=clock.now)] * 3
    refused = ServiceKill(max_guardrail_wait=60).run(live, ctx(clock))  # type: ignore[arg-type]
    assert not refused.ok and "would block a restart" in refused.detail
