"""The runner's verification on a fake clock and a fake Prometheus: the check
waits for the stabilisation without holding the runner, a step not verified
gives way to the next, an unreachable Prometheus is said and never crashes, a
runner dying mid-check loses nothing, and the PromQL precondition blocks."""

from __future__ import annotations

from pathlib import Path

from runs_support import APPEND, Harness, book, command

from alert_webhook.remediation.verify import PrometheusError, window_query

STILL_DOWN = [{"instance": "db1:9100"}]  # the alert's own series (make_alert's instance)


def test_the_check_waits_for_delay_and_window_without_holding_the_runner(store) -> None:
    verify = {"delay": "20s", "window": "40s"}
    h = Harness(store, [book("DemoDown", command("print('ok')"), verify=verify)])
    h.fire("DemoDown", service="demo")
    assert h.runner.run_once() == 1  # acted, and returned at once
    h.clock.advance(59)
    assert h.runner.run_once() == 0 and h.prometheus.asked == []
    h.clock.advance(1)
    assert h.runner.run_once() == 1
    assert h.prometheus.asked == [window_query("up", 40)]
    assert h.runs()[0]["status"] == "verified"


def test_a_step_not_verified_gives_way_to_the_next_which_is_checked_too(
    store, tmp_path: Path
) -> None:
    out = tmp_path / "ran"
    steps = command(APPEND, str(out), "first"), command(APPEND, str(out), "second")
    h = Harness(store, [book("DemoDown", *steps)])
    h.fire("DemoDown", service="demo")
    h.prometheus.answers["up"] = STILL_DOWN
    h.runner.run_once()
    assert h.settle() == 1  # not verified: the second step runs, and is left to check
    assert out.read_text() == "first\nsecond\n"
    [run] = h.runs()
    assert run["status"] == "verifying"
    del h.prometheus.answers["up"]
    assert h.settle() == 1
    [run] = h.runs()
    assert run["status"] == "verified"
    assert run["detail"].startswith("step 1 (run_command) verified:")
    first, second = run["steps"]
    assert first["detail"].startswith("not verified: up still returned 1 series")
    assert second["detail"].startswith("verified: up returned nothing")
    assert (h.count("DemoDown", "verified"), h.count("DemoDown", "ineffective")) == (1, None)


def test_every_step_not_verified_is_ineffective_a_failure(store) -> None:
    failing = command("import sys; sys.exit(4)")
    h = Harness(store, [book("DemoDown", command("print('ok')"), failing)])
    h.fire("DemoDown", service="demo")
    h.prometheus.answers["up"] = STILL_DOWN
    h.runner.run_once()
    h.settle()
    [run] = h.runs()
    assert run["status"] == "ineffective"
    assert run["detail"] == (
        "step 0 (run_command) not verified: up still returned 1 series of this alert within 10s; "
        "step 1 (run_command): exit status 4"
    )
    assert h.count("DemoDown", "ineffective") == 1


def test_prometheus_unreachable_is_said_and_counts_as_not_verified(store) -> None:
    h = Harness(store, [book("DemoDown", command("print('ok')"))])
    h.fire("DemoDown", service="demo")
    h.prometheus.answers["up"] = PrometheusError("Prometheus at http://p:9090: unreachable")
    h.runner.run_once()
    h.settle()
    [run] = h.runs()
    assert run["status"] == "ineffective"
    assert run["detail"] == (
        "step 0 (run_command) not verified: Prometheus at http://p:9090: unreachable"
    )


def test_a_runner_dying_mid_check_leaves_it_to_be_checked_not_interrupted(
    store, tmp_path: Path
) -> None:
    out = tmp_path / "ran"
    h = Harness(store, [book("DemoDown", command(APPEND, str(out), "x"))])
    h.fire("DemoDown", service="demo")
    h.runner.run_once()
    h.clock.advance(15)
    [dying] = store.remediations.claim(h.clock(), "dead", lease=30, limit=1)
    assert dying.verifying_step == 0  # claimed for its check, and then that runner died
    assert h.runner.run_once() == 0  # its lease still holds: nobody checks twice
    h.clock.advance(31)
    assert h.runner.run_once() == 1
    [run] = h.runs()
    assert run["status"] == "verified" and out.read_text() == "x\n"  # not run again
    assert len(h.prometheus.asked) == 1


def test_a_precondition_that_returns_nothing_blocks_naming_why(store, tmp_path: Path) -> None:
    out = tmp_path / "ran"
    pre = {"query": 'avg(up{job="pool"}) >= 0.8', "reason": "most of the pool must be up"}
    h = Harness(store, [book("DemoDown", command(APPEND, str(out), "x"), precondition=pre)])
    h.fire("DemoDown", "a", service="demo")
    h.runner.run_once()
    h.prometheus.answers["avg(up"] = PrometheusError("Prometheus at http://p: unreachable")
    h.fire("DemoDown", "b", service="web")
    h.runner.run_once()
    h.prometheus.answers["avg(up"] = [{}]
    h.fire("DemoDown", "c", service="db")
    h.runner.run_once()
    ran, down, empty = h.runs()  # newest first: c held, b unreachable, a empty
    assert (empty["status"], empty["guardrail"], empty["detail"]) == (
        "blocked", "precondition",
        'most of the pool must be up: avg(up{job="pool"}) >= 0.8 returned nothing',
    )  # fmt: skip
    assert (down["status"], down["detail"]) == (
        "blocked", 'most of the pool must be up: avg(up{job="pool"}) >= 0.8: '
        "Prometheus at http://p: unreachable",
    )  # fmt: skip
    assert ran["status"] == "verifying" and out.read_text() == "x\n"


def test_a_due_check_goes_before_runs_still_to_be_judged(store) -> None:
    h = Harness(store, [book("DemoDown", command("print()"), blast_radius=5)])
    h.fire("DemoDown", "a", service="demo")
    h.runner.run_once()
    h.clock.advance(15)
    h.fire("DemoDown", "b", service="web")  # planned, due as long as the check
    h.runner.run_once()
    web, demo = h.runs()
    assert (demo["status"], web["status"]) == ("verified", "planned")
