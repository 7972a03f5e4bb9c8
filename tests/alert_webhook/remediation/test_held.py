"""`notify: after_attempt`, on both stores: a non-critical alert's notification is
held (durably, in the store) while its run works, then dropped for one
"recovered automatically" note when it was verified, or sent with the attempt
history when it was not; a critical alert is told at once; a resolution while
held is held with it."""

from __future__ import annotations

import pytest
from runs_support import Harness, book, command
from webhook_support import make_alert

from alert_webhook.delivery.channels import Channel, Message
from alert_webhook.delivery.rows import DeliveryStatus

STILL_DOWN = [{"instance": "db1:9100"}]


def resolve(h: Harness) -> None:
    """The resolution of the alert the test fired first."""
    h.record(make_alert("a", status="resolved", alertname="QueueDeep", service="demo",
                        severity="high", starts_at="2026-11-28T09:00:00Z"))  # fmt: skip


@pytest.fixture
def store(any_store):
    return any_store


def held_book(*steps, **kw):
    return book("QueueDeep", *(steps or [command("print('drained')")]),
                notify="after_attempt", **kw)  # fmt: skip


def statuses(h: Harness, purpose: str = "notify") -> dict[tuple[str, str], str]:
    return {(d["event_status"], d["channel"]): d["status"] for d in h.deliveries(purpose)}


@pytest.mark.integration
def test_a_high_alerts_notification_is_held_while_its_run_works(store) -> None:
    h = Harness(store, [held_book()])
    result = h.fire("QueueDeep", service="demo", severity="high")
    assert statuses(h) == {("firing", "email"): "held", ("firing", "dashboard"): "held"}
    # Neither queued for the delivery worker nor counted as delivered.
    assert (result.queued_deliveries, dict(result.stored)) == (0, {})
    assert store.outbox.claim(h.clock(), "worker", 30, 10) == []
    h.runner.run_once()
    assert h.runs()[0]["status"] == "verifying"
    assert set(statuses(h).values()) == {"held"}


class Lines:
    """A log provider that keeps its lines."""

    name, local = "log", True

    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        self.sent.append(message)


@pytest.mark.integration
def test_a_held_log_message_is_not_written_with_the_recording(store) -> None:
    """The log sends in the recording transaction (delivery/planner.py), unless
    the run holds the message: then it is held like any other."""
    lines = Lines()
    h = Harness(store, [held_book()], inline={"log": Channel("log", [lines], inline=True)})
    result = h.fire("QueueDeep", service="demo", severity="low")
    assert statuses(h) == {("firing", "log"): "held"}
    assert (result.queued_deliveries, dict(result.stored), lines.sent) == (0, {}, [])
    unheld = h.fire("DiskFull", "b", service="demo", severity="low")  # no playbook
    assert (dict(unheld.stored), [m.alert_id for m in lines.sent]) == (
        {"log": 1}, [h.deliveries("notify")[-1]["alert_id"]],
    )  # fmt: skip


@pytest.mark.integration
def test_verified_drops_it_for_one_recovered_note_on_the_dashboard_and_log(store) -> None:
    h = Harness(store, [held_book()])
    h.fire("QueueDeep", service="demo", severity="high")
    h.runner.run_once()
    h.settle()
    assert set(statuses(h).values()) == {DeliveryStatus.SKIPPED}
    notes = {d["channel"]: d for d in h.deliveries("remediation")}
    assert {c: d["status"] for c, d in notes.items()} == {
        "dashboard": "delivered", "log": "pending",
    }  # fmt: skip
    assert notes["log"]["note"].startswith(
        "remediation QueueDeep on service=demo recovered automatically: step 0 (run_command) "
        "verified"
    )
    assert h.deliveries("notify")[0]["note"] == notes["log"]["note"]


@pytest.mark.integration
def test_not_verified_sends_the_notification_with_the_attempt_history(store) -> None:
    h = Harness(store, [held_book()])
    h.fire("QueueDeep", service="demo", severity="high")
    h.prometheus.answers["up"] = STILL_DOWN
    h.runner.run_once()
    h.settle()
    assert h.runs()[0]["status"] == "ineffective"
    assert statuses(h) == {("firing", "email"): "pending", ("firing", "dashboard"): "delivered"}
    [email] = [d for d in h.deliveries("notify") if d["channel"] == "email"]
    assert email["note"].startswith("remediation QueueDeep on service=demo ran, but did not fix")
    assert "output 'drained'" in email["note"]
    assert h.deliveries("remediation") == []  # the notification itself carries it
    [job] = store.outbox.claim(h.clock(), "worker", 30, 10)
    assert (job.channel, job.note) == ("email", email["note"])


def test_a_blocked_run_releases_it_saying_why_nothing_ran(store) -> None:
    h = Harness(store, [held_book(command("print()", "{labels.service}"))])
    h.fire("QueueDeep", service="bad$(x)", severity="medium")
    h.runner.run_once()
    assert statuses(h) == {("firing", "dashboard"): "delivered"}
    assert "no action (labels)" in h.deliveries("notify")[0]["note"]


def test_a_critical_alert_is_told_at_once_whatever_the_playbook_says(store) -> None:
    h = Harness(store, [held_book()])
    h.fire("QueueDeep", service="demo")  # critical
    assert "held" not in statuses(h).values()
    assert statuses(h)[("firing", "sms")] == "pending"


@pytest.mark.integration
def test_a_resolution_while_held_is_held_too_and_nobody_is_paged(store) -> None:
    h = Harness(store, [held_book()])
    h.fire("QueueDeep", service="demo", severity="high")
    h.prometheus.answers["up"] = STILL_DOWN
    h.runner.run_once()
    resolve(h)
    assert statuses(h)[("resolved", "email")] == "held"
    h.settle()  # not verified, but the alert is gone: nothing for a person to fix
    assert set(statuses(h).values()) == {DeliveryStatus.SKIPPED}
    notes = {d["channel"] for d in h.deliveries("remediation")}
    assert notes == {"dashboard", "log"}


@pytest.mark.integration
def test_a_resolution_after_the_run_ended_goes_out_as_usual(store) -> None:
    h = Harness(store, [held_book()])
    h.fire("QueueDeep", service="demo", severity="high")
    h.prometheus.answers["up"] = STILL_DOWN
    h.runner.run_once()
    h.settle()
    resolve(h)
    assert statuses(h)[("resolved", "email")] == "pending"
