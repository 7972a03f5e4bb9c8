"""remediation/runner.py on a fake clock, with real commands (run_command) and a
real loopback HTTP server (http_request): every outcome recorded with its reason."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from runs_support import APPEND, PY, Harness, book, command
from support.loopback import Replying, serving
from webhook_support import concurrently

from alert_webhook.remediation.runner import Runner
from alert_webhook.remediation.states import StepRecord, StepStatus
from alert_webhook.store import open_store


@pytest.mark.integration
def test_a_run_that_succeeds_records_each_step_and_counts_it(store, tmp_path: Path) -> None:
    out = tmp_path / "ran"
    h = Harness(store, [book("DemoDown", command(APPEND, str(out), "{labels.service}"))])
    h.fire("DemoDown", service="demo")
    assert h.runner.run_once() == 1
    [run] = h.runs()
    assert run["status"] == "verifying"  # the step worked: its check is due later
    [step] = run["steps"]
    assert (step["status"], step["exit_status"], step["output"]) == ("succeeded", 0, "restarted\n")
    assert step["params"]["argv"][-1] == "demo"
    assert out.read_text() == "demo\n"
    assert h.settle() == 1
    [run] = h.runs()
    assert run["status"] == "verified"
    assert run["detail"].startswith(
        "step 0 (run_command) verified after 15s: DemoDown's condition returned nothing"
    )
    assert h.count("DemoDown", "verified") == 1
    duration = {"action": "run_command", "outcome": "succeeded"}
    got = h.metrics.registry.get_sample_value(
        "alert_webhook_remediation_action_duration_seconds_count", duration
    )
    assert got == 1
    assert h.runner.run_once() == 0  # nothing left: it ran once


@pytest.mark.integration
def test_a_failed_step_falls_through_to_the_next(store, tmp_path: Path) -> None:
    out = tmp_path / "ran"
    failing = command("import sys; print('no such unit'); sys.exit(3)")
    h = Harness(store, [book("DemoDown", failing, command(APPEND, str(out), "second"))])
    h.fire("DemoDown", service="demo")
    h.runner.run_once()
    h.settle()
    [run] = h.runs()
    assert run["status"] == "verified"
    assert [(s["status"], s["exit_status"]) for s in run["steps"]] == [
        ("failed", 3), ("succeeded", 0),
    ]  # fmt: skip
    assert out.read_text() == "second\n"


@pytest.mark.integration
def test_when_every_step_fails_the_run_fails_saying_why(store) -> None:
    h = Harness(store, [book("DemoDown", command("import sys; sys.exit(1)"))])
    h.fire("DemoDown", service="demo")
    h.runner.run_once()
    [run] = h.runs()
    assert (run["status"], run["detail"]) == ("failed", "step 0 (run_command): exit status 1")
    assert h.count("DemoDown", "failed") == 1


@pytest.mark.integration
def test_a_command_that_times_out_fails_with_its_output_tail(store) -> None:
    hang = command("import time; print('stopping demo', flush=True); time.sleep(60)",
                   timeout="500ms")  # fmt: skip
    h = Harness(store, [book("DemoDown", hang)])
    h.fire("DemoDown", service="demo")
    h.runner.run_once()
    [run] = h.runs()
    [step] = run["steps"]
    assert (run["status"], step["status"], step["exit_status"]) == ("failed", "timed_out", None)
    assert step["output"] == "stopping demo\n"
    assert "still running after 0.5s" in run["detail"]


@pytest.mark.integration
def test_a_guardrail_blocks_the_run_and_the_reason_is_recorded(store, tmp_path: Path) -> None:
    out = tmp_path / "ran"
    h = Harness(store, [book("DemoDown", command(APPEND, str(out), "x"), cooldown="5m")])
    h.fire("DemoDown", "a", service="demo")
    h.runner.run_once()
    h.settle()
    h.clock.advance(45)
    h.fire("DemoDown", "b", service="demo")  # another alert, the same target
    h.runner.run_once()
    blocked, first = h.runs()
    assert (first["status"], blocked["status"], blocked["guardrail"]) == (
        "verified", "blocked", "cooldown",
    )  # fmt: skip
    assert blocked["detail"].startswith("DemoDown acted on service=demo 60s ago")
    assert blocked["started_at"] is None and blocked["steps"] == []
    assert out.read_text() == "x\n"
    assert h.count("DemoDown", "blocked") == 1


def test_a_dry_run_is_skipped_with_the_rendered_params(store, tmp_path: Path) -> None:
    out = tmp_path / "ran"
    h = Harness(store, [book("DemoDown", command(APPEND, str(out), "{labels.service}"))],
                dry_run=True)  # fmt: skip
    h.fire("DemoDown", service="demo")
    h.runner.run_once()
    [run] = h.runs()
    assert (run["status"], run["guardrail"]) == ("skipped", "dry_run")
    [step] = run["steps"]
    assert step["status"] == "skipped"
    assert step["params"]["argv"] == [PY, "-c", APPEND, str(out), "demo"]
    assert not out.exists()
    assert h.count("DemoDown", "skipped") == 1


@pytest.mark.parametrize(
    "value", ["demo; rm -rf /", "$(touch pwned)", "../../etc", "demo\nid", "demo\x00x", "-rf"]
)
def test_an_injection_through_labels_runs_nothing_and_is_blocked(
    store, tmp_path: Path, value: str
) -> None:
    out = tmp_path / "ran"
    h = Harness(store, [book("DemoDown", command(APPEND, str(out), "{labels.service}"))])
    h.fire("DemoDown", service=value)
    h.runner.run_once()
    [run] = h.runs()
    assert (run["status"], run["guardrail"], run["steps"]) == ("blocked", "labels", [])
    # The payload's parser already turns a NUL into U+FFFD: refused all the same.
    stored = store.list_alerts()[0].labels["service"]
    assert run["detail"].startswith(
        f"step 0 (run_command): label service={stored!r} does not match"
    )
    assert not out.exists()  # the command would have written it, with any value


def test_a_run_its_runner_died_in_is_failed_interrupted_not_run_again(
    store, tmp_path: Path
) -> None:
    out = tmp_path / "ran"
    h = Harness(store, [book("DemoDown", command(APPEND, str(out), "x"))])
    h.fire("DemoDown", service="demo")
    runs = store.runs
    [dead] = runs.claim(h.clock(), "dead", lease=30, limit=1)  # a runner that then died
    runs.start(dead, h.clock(), h.clock() + 30)
    runs.start_step(
        dead, StepRecord(0, "run_command", {}, StepStatus.STARTED), h.clock(), h.clock() + 40
    )
    assert h.runner.run_once() == 0  # its lease still holds
    h.clock.advance(41)
    assert h.runner.run_once() == 1
    [run] = h.runs()
    assert run["status"] == "failed" and run["detail"].startswith("interrupted")
    assert [s["status"] for s in run["steps"]] == ["interrupted"]
    assert not out.exists()
    assert h.count("DemoDown", "failed") == 1


class _Hook(Replying):
    hits: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        type(self).hits.append(self.path)
        self.reply(200, b'{"refreshed": true}')


@pytest.fixture
def hook() -> Iterator[str]:
    _Hook.hits = []
    with serving(_Hook) as port:
        yield f"127.0.0.1:{port}"


def test_an_http_hook_runs_against_a_real_server(store, hook: str) -> None:
    step = {
        "action": "http_request",
        "timeout": "5s",
        "params": {"url": "http://{labels.instance}/token/{labels.service}/refresh"},
    }
    h = Harness(store, [book("TokenExpired", step)])
    h.fire("TokenExpired", service="auth", instance=hook)
    h.runner.run_once()
    h.settle()
    [run] = h.runs()
    [done] = run["steps"]
    assert (run["status"], done["exit_status"], done["output"]) == (
        "verified", 200, '{"refreshed": true}',
    )  # fmt: skip
    assert _Hook.hits == ["/token/auth/refresh"]


@pytest.fixture
def replicas(any_store) -> Iterator[tuple[Any, Any]]:
    other = open_store(any_store.engine.url.render_as_string(hide_password=False))
    yield any_store, other
    other.dispose()


@pytest.mark.integration
def test_two_runners_on_two_replicas_run_a_run_once(replicas, tmp_path: Path) -> None:
    a, b = replicas
    out = tmp_path / "ran"
    steps = command(APPEND, str(out), "{labels.service}")
    h = Harness(a, [book("DemoDown", steps, blast_radius=5)])
    for i in range(5):
        h.fire("DemoDown", f"f{i}", service=f"s{i}")
    runners = [h.runner_on(a, "w1"), h.runner_on(b, "w2")]

    def drain(runner: Runner) -> Callable[[], int]:
        return lambda: sum(iter(runner.run_once, 0))

    assert sum(concurrently(*(drain(r) for r in runners))) == 5
    assert sorted(out.read_text().split()) == [f"s{i}" for i in range(5)]
    h.clock.advance(15)  # each check is claimed by one of them, once
    assert sum(concurrently(*(drain(r) for r in runners))) == 5
    assert [r["status"] for r in h.runs()] == ["verified"] * 5
    assert len(h.prometheus.checks()) == 5
