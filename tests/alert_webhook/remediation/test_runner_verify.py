"""The runner's verification on a fake clock and a fake Prometheus: the first
check waits for the stabilisation without holding the runner; the condition is
checked again until it clears or until the alert's own lag (its probes, scrapes,
rules and ranges, as Prometheus tells them) plus the window has passed; a step
not verified gives way to the next; an unreachable Prometheus is said and never
crashes; a runner dying mid-check loses nothing; and the PromQL precondition
blocks. The record says in words what was checked, when, and why that long."""

from __future__ import annotations

from pathlib import Path

import pytest
from runs_support import APPEND, Harness, book, command

from alert_webhook.remediation.lag import RecordingRule
from alert_webhook.remediation.verify import PrometheusError, window_query

STILL_DOWN = [{"instance": "db1:9100"}]  # the alert's own series (make_alert's instance)
# The default profile's timing of a probe-fed alert (ServiceUnavailable's):
# probes every minute, scrapes every 15 s.
PROBED = {"up": 60.0}
BASIS = "1m probe interval + 15s scrape interval"


pytestmark = pytest.mark.integration


def default_profile(h: Harness) -> Harness:
    """The harness's Prometheus scraping every 15 s, as on the default profile."""
    h.prometheus.scrape = 15.0
    return h


def test_the_first_check_waits_for_delay_and_window_without_holding_the_runner(store) -> None:
    verify = {"delay": "20s", "window": "40s"}
    h = Harness(store, [book("DemoDown", command("print('ok')"), verify=verify)])
    h.fire("DemoDown", service="demo")
    assert h.runner.run_once() == 1  # acted, and returned at once
    h.clock.advance(59)
    assert h.runner.run_once() == 0 and h.prometheus.checks() == []
    h.clock.advance(1)
    assert h.runner.run_once() == 1
    assert h.prometheus.checks() == [window_query("up", 40)]
    assert h.runs()[0]["status"] == "verified"


def test_a_fix_seen_only_after_the_probe_interval_is_verified_not_ineffective(store) -> None:
    """The default profile's bug: a minute's probe and a 15 s scrape keep the
    condition there well past a 10 s delay and 30 s window; the run must wait for
    it rather than call a working fix ineffective. (Failed before: ineffective
    at the first check, 40 s after the step.)"""
    h = Harness(store, [book("DemoDown", command("print('restarted')"),
                             verify={"delay": "10s", "window": "30s"})])  # fmt: skip
    default_profile(h)
    h.prometheus.probed = PROBED
    h.prometheus.answers["up"] = STILL_DOWN
    h.fire("DemoDown", service="demo")
    h.runner.run_once()
    h.clock.advance(40)
    assert h.runner.run_once() == 1  # checked: still there, and due again
    assert h.runs()[0]["status"] == "verifying"
    h.clock.advance(10)  # a third of the window later
    assert h.runner.run_once() == 1 and h.runs()[0]["status"] == "verifying"
    del h.prometheus.answers["up"]  # the probe passed; the window is clear
    h.clock.advance(10)
    assert h.runner.run_once() == 1
    [run] = h.runs()
    assert run["status"] == "verified"
    said = (
        "verified after 1m: DemoDown's condition returned nothing of this alert for 30s "
        f"(waited up to 1m 45s: {BASIS} + 30s clear)"
    )
    assert run["detail"] == f"step 0 (run_command) {said}"
    assert run["steps"][0]["detail"] == said  # the step's record: the same words, once
    assert run["verify_query"] == "up"  # the expression, kept once
    assert (run["verify_since"], run["verify_until"]) == (
        h.clock() - 60, h.clock() - 60 + 105,
    )  # fmt: skip
    assert len(h.prometheus.checks()) == 3
    assert (h.count("DemoDown", "verified"), h.count("DemoDown", "ineffective")) == (1, None)


def test_a_condition_still_there_at_its_deadline_gives_way_to_the_next_step(
    store, tmp_path: Path
) -> None:
    out = tmp_path / "ran"
    steps = command(APPEND, str(out), "first"), command(APPEND, str(out), "second")
    h = Harness(store, [book("DemoDown", *steps, verify={"delay": "10s", "window": "30s"})])
    default_profile(h)
    h.prometheus.probed = PROBED
    h.prometheus.answers["up"] = STILL_DOWN
    h.fire("DemoDown", service="demo")
    h.runner.run_once()
    polls = 0
    while out.read_text() == "first\n":
        h.clock.advance(5)
        polls += h.runner.run_once()
        assert h.clock.now < 1_800_000_000 + 200, "never gave up"
    # Checked from 40 s to the deadline, 1m 45s after the step, every 10 s.
    assert polls == len(h.prometheus.checks()) == 8
    assert h.clock.now == 1_800_000_000 + 105
    [run] = h.runs()
    assert run["status"] == "verifying" and run["verifying_step"] == 1
    first = run["steps"][0]["detail"]
    assert first == (
        "not verified: DemoDown's condition still returned 1 series of this alert after "
        f"1m 45s (waited up to 1m 45s: {BASIS} + 30s clear)"
    )


def test_every_step_not_verified_is_ineffective_a_failure(store) -> None:
    failing = command("import sys; sys.exit(4)")
    h = default_profile(Harness(store, [book("DemoDown", command("print('ok')"), failing)]))
    h.fire("DemoDown", service="demo")
    h.prometheus.answers["up"] = STILL_DOWN
    h.runner.run_once()
    for _ in range(10):
        h.settle()
    [run] = h.runs()
    assert run["status"] == "ineffective"
    # The harness's playbooks: delay 5s, window 10s; `up` scraped every 15 s.
    assert run["detail"] == (
        "step 0 (run_command) not verified: DemoDown's condition still returned 1 series of "
        "this alert after 30s (waited up to 25s: 15s scrape interval + 10s clear); "
        "step 1 (run_command): exit status 4"
    )
    assert h.count("DemoDown", "ineffective") == 1


def test_a_playbooks_deadline_lengthens_the_wait_and_says_so(store) -> None:
    verify = {"delay": "10s", "window": "30s", "deadline": "5m"}
    h = Harness(store, [book("DemoDown", command("print('ok')"), verify=verify)])
    default_profile(h)
    h.prometheus.probed = PROBED
    h.prometheus.answers["up"] = STILL_DOWN
    h.fire("DemoDown", service="demo")
    h.runner.run_once()
    h.clock.advance(300)  # past the lag, within the playbook's deadline
    h.runner.run_once()
    assert h.runs()[0]["status"] == "verifying"
    h.clock.advance(30)
    h.runner.run_once()
    [run] = h.runs()
    assert run["status"] == "ineffective"
    assert run["detail"].endswith(
        "after 5m 30s (waited up to 5m 30s: the playbook's verify.deadline 5m "
        f"(lag: {BASIS}) + 30s clear)"
    )


def test_a_lag_through_recording_rules_counts_their_ranges_and_evaluations(store) -> None:
    h = Harness(store, [book("Slow", command("print('ok')"),
                             verify={"query": "job:latency:p95_rate5m > 5"})])  # fmt: skip
    default_profile(h)
    h.prometheus.rules = [
        RecordingRule("job:latency:p95_rate5m", "histogram_quantile(0.95, job:bucket:rate5m)", 15),
        RecordingRule("job:bucket:rate5m", "sum by (job, le) (rate(latency_bucket[5m]))", 15),
    ]
    h.prometheus.answers["job:latency"] = STILL_DOWN
    h.fire("Slow", service="demo")
    h.runner.run_once()
    h.clock.advance(15)
    h.runner.run_once()
    [run] = h.runs()
    assert run["status"] == "verifying"
    assert run["verify_why"] == (
        "waited up to 6m 15s: 5m range + 30s rule evaluation + 15s scrape interval + 30s clear"
    )
    assert run["verify_subject"] == "the playbook's verify query"


def test_a_lag_prometheus_cannot_tell_is_the_default_and_the_record_says_so(store) -> None:
    h = Harness(store, [book("DemoDown", command("print('ok')"))])
    h.prometheus.broken = PrometheusError("Prometheus at http://p:9090: unreachable")
    h.fire("DemoDown", service="demo")
    h.runner.run_once()
    [run] = h.runs()
    assert run["verify_why"] == (
        "waited up to 10m 10s: the default 10m, as Prometheus could not tell the lag "
        "(Prometheus at http://p:9090: unreachable) + 10s clear"
    )
    h.clock.advance(15)
    h.runner.run_once()  # the query itself is answered: nothing left
    assert h.runs()[0]["status"] == "verified"


def test_prometheus_unreachable_is_asked_again_then_said_not_verified(store) -> None:
    h = default_profile(Harness(store, [book("DemoDown", command("print('ok')"))]))
    h.fire("DemoDown", service="demo")
    h.runner.run_once()
    h.prometheus.answers["up"] = PrometheusError("Prometheus at http://p:9090: unreachable")
    h.settle()
    assert h.runs()[0]["status"] == "verifying"  # it may answer before the deadline
    for _ in range(5):
        h.settle()
    [run] = h.runs()
    assert run["status"] == "ineffective"
    assert run["detail"] == (
        "step 0 (run_command) not verified: Prometheus at http://p:9090: unreachable "
        "(waited up to 25s: 15s scrape interval + 10s clear)"
    )


def test_a_runner_dying_mid_check_leaves_it_to_be_checked_not_interrupted(
    store, tmp_path: Path
) -> None:
    out = tmp_path / "ran"
    h = Harness(store, [book("DemoDown", command(APPEND, str(out), "x"))])
    h.fire("DemoDown", service="demo")
    h.runner.run_once()
    h.clock.advance(15)
    [dying] = store.runs.claim(h.clock(), "dead", lease=30, limit=1)
    assert dying.verifying_step == 0  # claimed for its check, and then that runner died
    assert dying.verification is not None and dying.verification.query == "up"
    assert h.runner.run_once() == 0  # its lease still holds: nobody checks twice
    h.clock.advance(31)
    assert h.runner.run_once() == 1
    [run] = h.runs()
    assert run["status"] == "verified" and out.read_text() == "x\n"  # not run again
    assert len(h.prometheus.checks()) == 1


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
