"""`python -m stack drill` on the fast stack: the safe scenarios run against the
live stack, the drill is recorded in the webhook's store, and Prometheus scrapes
its results (the webhook's) and the schedule (the stack's textfile)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from support.procs import wait_until

from integration.launcher import launched
from stack.ports import SERVICES

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
TOKEN = "test-token-for-drills"


def prometheus_series(url: str, query: str) -> list[dict[str, object]]:
    answer = requests.get(f"{url}/api/v1/query", params={"query": query}, timeout=5).json()
    result: list[dict[str, object]] = answer["data"]["result"]
    return result


def test_a_drill_on_the_fast_stack_is_recorded_and_scraped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STACK_DRILL_SCHEDULE", "restore-test=7d,service-kill=30d")
    root = tmp_path / "stack"
    root.mkdir()
    with launched(root, TOKEN, ["--fast"]) as stack:
        assert stack.state("drills")[0] == "RUNNING"
        # Litestream has replicated the orders once (a replica to restore from).
        replica = root / "var" / "backups" / "replica" / "orders"
        wait_until(lambda: any(replica.rglob("*.ltx")) or any(replica.rglob("*.lz4")), 30,
                   "the orders' first replica")  # fmt: skip
        env = {**os.environ, **{s.env_var: str(stack.ports[s.name]) for s in SERVICES}}
        drill = subprocess.run(
            [sys.executable, "-m", "stack", "drill", f"--root={root}",
             "--scenarios", "restore-test,service-kill"],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        print(drill.stdout, drill.stderr)
        assert drill.returncode == 0, drill.stdout + drill.stderr
        assert "stack drill: restore-test: passed" in drill.stdout
        assert "stack drill: service-kill: passed, recovered in" in drill.stdout
        assert "recorded as drill 1" in drill.stdout

        headers = {"Authorization": f"Bearer {TOKEN}"}
        drills = requests.get(stack.url("webhook", "/api/drills"), headers=headers, timeout=5)
        [recorded] = drills.json()["drills"]
        assert recorded["ok"] and recorded["trigger"] == "manual"
        results = {r["scenario"]: r for r in recorded["results"]}
        assert set(results) == {"restore-test", "service-kill"}
        assert 0 < results["service-kill"]["recovery_seconds"] < 60
        assert "restart-demo-worker" in results["service-kill"]["detail"]
        assert "orders:" in results["restore-test"]["detail"]
        assert stack.state("demo_worker")[0] == "RUNNING"

        prometheus = stack.url("prometheus")
        wait_until(
            lambda: len(prometheus_series(
                prometheus, "alert_webhook_drill_last_success_timestamp_seconds")) == 2
            and len(prometheus_series(prometheus, "stack_drill_interval_seconds")) == 2,
            30, "Prometheus to scrape the drill's results and the schedule",
        )  # fmt: skip
        recovery = prometheus_series(
            prometheus, 'alert_webhook_drill_recovery_seconds{scenario="service-kill"}'
        )
        assert 0 < float(recovery[0]["value"][1]) < 60  # type: ignore[index]
        page = requests.get(stack.url("webhook", "/drills"), timeout=5)
        assert page.ok and 'data-scenario="service-kill"' in page.text
