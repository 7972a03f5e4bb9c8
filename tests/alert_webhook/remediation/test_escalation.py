"""Escalation when a run ends badly, on both stores: on the alert's own channels
(critical: SMS), naming the playbook, the target and what each step returned,
sanitised; written in the run's final transaction or not at all."""

from __future__ import annotations

import pytest
from runs_support import Harness, book, command

from alert_webhook.remediation.escalation import NOTE_CHARS, TAIL_CHARS
from alert_webhook.remediation.run_notices import Ended, Telling
from alert_webhook.remediation.states import RunStatus

STILL_DOWN = [{"instance": "db1:9100"}]
NOISY = "import sys; print('line one\\nline two\\x1b[31m'); sys.exit(3)"


@pytest.fixture
def store(any_store):
    return any_store


def by_channel(h: Harness, purpose: str = "remediation") -> dict[str, dict]:
    return {d["channel"]: d for d in h.deliveries(purpose)}


@pytest.mark.integration
def test_a_failed_run_is_escalated_on_a_critical_alerts_channels(store) -> None:
    h = Harness(store, [book("DemoDown", command(NOISY))])
    h.fire("DemoDown", service="demo")  # make_alert's severity: critical
    h.runner.run_once()
    [run] = h.runs()
    sent = by_channel(h)
    assert set(sent) == {"sms", "email", "dashboard"}
    assert {d["purpose"] for d in sent.values()} == {f"remediation-{run['id']}"}
    assert (sent["sms"]["status"], sent["sms"]["recipient"]) == ("pending", "+15555550100")
    assert (sent["email"]["status"], sent["dashboard"]["status"]) == ("pending", "delivered")
    assert sent["sms"]["note"] == (
        "remediation DemoDown on service=demo failed: step 0 (run_command): exit status 3. "
        "Tried: step 0 run_command: failed, exit 3, output 'line one line two [31m', "
        "exit status 3"
    )
    assert {d["note"] for d in sent.values()} == {sent["sms"]["note"]}


@pytest.mark.integration
def test_an_ineffective_run_on_a_high_alert_goes_where_its_notification_went(store) -> None:
    h = Harness(store, [book("DemoDown", command("print('restarted')"))])
    h.fire("DemoDown", service="demo", severity="high")
    h.prometheus.answers["up"] = STILL_DOWN
    h.prometheus.scrape = 15.0  # the default profile's: it may clear 25 s after the step
    h.runner.run_once()
    h.settle()  # still there, but it may yet clear: checked again
    assert by_channel(h) == {}
    h.settle()  # past its deadline
    sent = by_channel(h)
    assert set(sent) == {"email", "dashboard"}  # high: no SMS, as the routing says
    note = sent["email"]["note"]
    assert note.startswith("remediation DemoDown on service=demo ran, but did not fix it: ")
    assert (
        "step 0 run_command: succeeded, exit 0, output 'restarted', not verified: DemoDown's "
        "condition still returned 1 series of this alert after 30s (waited up to 25s: "
        "15s scrape interval + 10s clear)"
    ) in note


def test_a_refused_label_value_is_escalated_as_no_action(store) -> None:
    h = Harness(store, [book("DemoDown", command("print()", "{labels.service}"))])
    h.fire("DemoDown", service="demo;reboot")
    h.runner.run_once()
    note = by_channel(h)["sms"]["note"]
    assert note.startswith(
        "remediation DemoDown on service=demo;reboot no action (labels): step 0 (run_command): "
        "label service='demo;reboot' does not match"
    )


def test_a_guardrail_block_and_an_interrupted_run_are_escalated(store) -> None:
    h = Harness(store, [book("DemoDown", command("print()"), cooldown="1h")])
    h.fire("DemoDown", "a", service="demo")
    [dead] = store.runs.claim(h.clock(), "dead", lease=30, limit=1)
    store.runs.start(dead, h.clock(), h.clock() + 30)
    h.clock.advance(31)
    h.runner.run_once()  # the dead runner's run: interrupted
    h.fire("DemoDown", "b", service="demo")
    h.runner.run_once()  # cooldown
    notes = sorted(d["note"] for d in h.deliveries("remediation") if d["channel"] == "sms")
    assert notes[0].startswith("remediation DemoDown on service=demo failed: interrupted")
    assert notes[1].startswith("remediation DemoDown on service=demo no action (cooldown): ")


@pytest.mark.integration
def test_a_verified_run_sends_nothing_more(store) -> None:
    h = Harness(store, [book("DemoDown", command("print()"))])
    h.fire("DemoDown", service="demo")
    h.runner.run_once()
    h.settle()
    assert h.runs()[0]["status"] == "verified" and h.deliveries("remediation") == []


@pytest.mark.integration
def test_long_output_is_cut_and_the_whole_text_bounded(store) -> None:
    chatty = "import sys; print('x' * 5000 + 'END'); sys.exit(1)"
    h = Harness(store, [book("DemoDown", *[command(chatty)] * 20)])
    h.fire("DemoDown", service="demo")
    h.runner.run_once()
    note = by_channel(h)["sms"]["note"]
    assert len(note) == NOTE_CHARS and note.endswith("…")
    assert f"output '…{'x' * (TAIL_CHARS - 3)}END'" in note


@pytest.mark.integration
def test_the_ending_and_its_escalation_are_one_transaction(store) -> None:
    h = Harness(store, [book("DemoDown", command("import sys; sys.exit(1)"))])
    h.fire("DemoDown", service="demo")
    told: list[Ended] = []

    def broken(ended: Ended, now: float) -> Telling:
        told.append(ended)
        raise RuntimeError("the telling broke")

    h.runner.tell = broken
    with pytest.raises(RuntimeError):
        h.runner.run_once()
    # The tell saw the run as ended, but nothing of that ending was kept.
    assert [e.status for e in told] == [RunStatus.FAILED]
    assert h.runs()[0]["status"] == "in_flight" and h.deliveries("remediation") == []
    h.runner.tell = h.tell
    h.clock.advance(60)  # its lease lapses: taken over, interrupted, and told
    h.runner.run_once()
    assert h.runs()[0]["status"] == "failed" and by_channel(h)["sms"]["status"] == "pending"


def test_a_runner_that_lost_its_lease_tells_nobody(store) -> None:
    h = Harness(store, [book("DemoDown", command("print()"))])
    h.fire("DemoDown", service="demo")
    [stale] = store.runs.claim(h.clock(), "slow", lease=30, limit=1)
    h.clock.advance(31)
    [job] = store.runs.claim(h.clock(), "other", lease=30, limit=1)
    assert not store.runs.finish(stale, RunStatus.FAILED, h.clock(), h.tell, "late")
    assert store.runs.finish(job, RunStatus.BLOCKED, h.clock(), h.tell, "why", "x")
    assert [d["note"].split(":")[0] for d in h.deliveries("remediation")][:1] == [
        "remediation DemoDown on service=demo no action (x)"
    ]


def test_nobody_approving_in_time_is_escalated_like_any_other_block(store) -> None:
    steps = command("print()")
    h = Harness(store, [book("DbCorrupt", steps, require_approval=True, approval_timeout="15m")])
    h.fire("DbCorrupt", service="db")
    h.runner.run_once()  # waits for an operator
    assert h.deliveries("remediation") == []
    h.clock.advance(900)
    h.runner.run_once()
    assert by_channel(h)["sms"]["note"] == (
        "remediation DbCorrupt on service=db no action (approval): nobody approved within 15m. "
        "Further runs of DbCorrupt blocked by approval in the next 5 min are recorded, not sent."
    )
