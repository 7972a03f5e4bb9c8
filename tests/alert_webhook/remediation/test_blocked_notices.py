"""A guardrail's block is said once per playbook and reason within its window
(issue 27, the alert storm): the first blocked run escalates as before and says
that more are only recorded; the rest of the window's blocked runs of that
playbook for that reason tell nobody (each is still in the store with its
reason); the first of a later window says it again, with how many were not
said. A block for another reason or of another playbook still escalates."""

from __future__ import annotations

from runs_support import Harness, book, command
from webhook_support import CONTACTS, FakeClock

from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.delivery.routing import Router
from alert_webhook.remediation.escalation import BlockedNotices, Escalation
from alert_webhook.remediation.run_notices import Ended
from alert_webhook.remediation.states import RunStatus

WINDOW = 300.0


def escalation(window: float = WINDOW) -> Escalation:
    settings = settings_from_mapping(CONTACTS, {})
    router = Router(settings.routing, settings.channels)
    return Escalation(router, frozenset({"dashboard"}), blocked=BlockedNotices(window))


def blocked(run_id: int, playbook: str = "restart-demo", guardrail: str = "blast_radius",
            status: RunStatus = RunStatus.BLOCKED,
            severity: str = "critical") -> Ended:  # fmt: skip
    return Ended(
        run_id=run_id, alert_id=run_id, event_id=run_id, playbook=playbook,
        target=f"host=h{run_id}", status=status, detail="too many targets at once",
        guardrail=guardrail if status is RunStatus.BLOCKED else None, alertname="DemoDown",
        severity=severity, labels={"alertname": "DemoDown", "severity": severity},
        resolved=False, held=False, steps=(),
    )  # fmt: skip


def notes(telling) -> set[str]:
    return {d.note for d in telling.deliveries}


def test_a_storm_of_blocks_for_one_playbook_and_reason_is_said_once_per_window() -> None:
    tell, clock = escalation(), FakeClock()
    first = tell(blocked(1), clock())
    assert {d.channel for d in first.deliveries} == {"sms", "email", "dashboard"}
    [text] = notes(first)
    assert text.startswith("remediation restart-demo on host=h1 no action (blast_radius): ")
    assert text.endswith(
        "Further runs of restart-demo blocked by blast_radius in the next 5 min are recorded, "
        "not sent."
    )
    for run in range(2, 2000):
        clock.advance(0.1)
        assert tell(blocked(run), clock()).deliveries == ()
    clock.advance(WINDOW)
    [again] = notes(tell(blocked(2000), clock()))
    assert again.startswith("remediation restart-demo on host=h2000 no action (blast_radius): ")
    assert "1998 more runs of restart-demo blocked by blast_radius since " in again


def test_another_reason_or_playbook_still_escalates() -> None:
    tell, clock = escalation(), FakeClock()
    assert tell(blocked(1), clock()).deliveries
    assert tell(blocked(2, guardrail="cooldown"), clock()).deliveries
    assert tell(blocked(3, playbook="restart-web"), clock()).deliveries
    assert tell(blocked(4, status=RunStatus.FAILED), clock()).deliveries
    assert tell(blocked(5, status=RunStatus.FAILED), clock()).deliveries  # failures: each
    assert tell(blocked(6), clock()).deliveries == ()
    for run in (7, 8):  # a fault of each alert: a refused label value, no inventory host
        assert tell(blocked(run, guardrail="labels"), clock()).deliveries
        assert tell(blocked(run, guardrail="fleet_host"), clock()).deliveries


def test_a_block_routed_to_other_people_is_said_in_the_same_window() -> None:
    """A high alert's block said by email must not silence a critical one's SMS."""
    tell, clock = escalation(), FakeClock()
    high = tell(blocked(1, severity="high"), clock())
    assert "sms" not in {d.channel for d in high.deliveries}
    assert tell(blocked(2, severity="high"), clock()).deliveries == ()
    critical = tell(blocked(3), clock())
    assert "sms" in {d.channel for d in critical.deliveries}
    assert tell(blocked(4), clock()).deliveries == ()


def test_a_window_of_zero_escalates_every_block() -> None:
    tell, clock = escalation(window=0.0), FakeClock()
    assert all(tell(blocked(run), clock()).deliveries for run in range(1, 5))


def test_each_blocked_run_is_still_recorded_with_its_reason(store) -> None:
    steps = command("print()")
    h = Harness(store, [book("DbCorrupt", steps, require_approval=True, approval_timeout="15m")])
    for service in ("db1", "db2", "db3"):
        h.fire("DbCorrupt", service, service=service)
    while h.runner.run_once():  # each waits for an operator
        pass
    h.clock.advance(900)
    while h.runner.run_once():
        pass
    runs = h.runs()
    assert [(r["status"], r["guardrail"]) for r in runs] == [("blocked", "approval")] * 3
    said = {d["purpose"] for d in h.deliveries("remediation")}
    assert len(said) == 1
