"""dashboard/timeline.py: what an incident's timeline says, in order — deliveries
with their text, each remediation run in one line, verified or escalated,
acknowledged, silenced, handled, resolved; the older lines apart."""

from __future__ import annotations

from typing import Any

from alert_webhook.dashboard.console import ConsoleAlert, ConsoleView, group
from alert_webhook.dashboard.timeline import (
    RECENT_ENTRIES,
    OtherAlert,
    RunLine,
    run_summary,
    tally,
    timeline,
)


def _alert(alert_id: int, name: str = "ServiceUnavailable", **incident: Any) -> ConsoleAlert:
    row = {"deadline_at": 400.0, "acked_at": None, "acked_by": None, "closed_at": None, **incident}
    return ConsoleAlert(alert_id, name, "critical", "firing", {"service": "api"},
                        {"summary": "api down"}, 100.0 + alert_id, incident=row)  # fmt: skip


def _delivery(id: int, alert_id: int = 1, purpose: str = "notify", **kw: Any) -> dict[str, Any]:
    return {"id": id, "alert_id": alert_id, "event_status": "firing", "channel": "email",
            "recipient": "oncall@example.org", "purpose": purpose, "status": "delivered",
            "note": None, "last_error": None, "received_at": 110.0 + id, "finished_at": None,
            **kw}  # fmt: skip


def _run(id: int, status: str, steps: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {"id": id, "alert_id": 1, "playbook": "restart", "target": "api", "status": status,
            "planned_at": 120.0, "started_at": 125.0, "finished_at": 187.0, "detail": None,
            "guardrail": None,
            "approval": None, "approval_deadline": None, "approval_at": None, "steps": steps,
            **kw}  # fmt: skip


def _step(step: int, status: str, at: float) -> dict[str, Any]:
    return {"step": step, "action": "restart_service", "status": status, "exit_status": 0,
            "detail": None, "started_at": at - 1, "finished_at": at}  # fmt: skip


def _entries(alerts, runs=(), deliveries=(), texts=lambda d, a: None):
    view = ConsoleView(
        group(list(alerts)),
        {1: list(runs)},
        {1: list(deliveries)},
        {1: {"delivered": len(deliveries)}},
    )
    (incident,) = view.incidents
    return timeline(incident, view, {"sms": "not configured: no providers"}, texts)


def test_a_run_is_one_line_verified_after_how_long() -> None:
    why = "step 0 (restart_service) cleared: count_over_time((up == 0)[30s:])"
    run = _run(1, "verified", [_step(0, "succeeded", 140.0)], detail=why)
    v = _entries([_alert(1)], [run], [_delivery(1)])
    assert [e.kind for e in v.entries] == ["fired", "delivery", "verified"]
    assert v.entries[2].text == "restart on api — verified after 62 s"
    assert v.entries[2].at == 187.0
    assert v.runs == [RunLine(run, "restart on api — verified after 62 s")]


def test_a_run_that_did_not_fix_it_a_missed_deadline_and_a_failover_are_escalations() -> None:
    run = _run(1, "ineffective", [_step(0, "succeeded", 140.0)], detail="still firing")
    late = [_delivery(5, purpose="tier-2", recipient="lead@example.org"),
            _delivery(6, purpose="tier-2", channel="sms", recipient="+15555550199"),
            _delivery(80, purpose="failover:email", channel="dashboard")]  # fmt: skip
    v = _entries([_alert(1)], [run], late)
    escalated = [e.text for e in v.entries if e.kind == "escalated"]
    assert escalated == [
        "ServiceUnavailable: response deadline missed, sent to tier 2",
        "restart on api — not fixed: still firing: people were told",
        "ServiceUnavailable: email delivery failed, sent on other channels",
    ]


def test_a_run_s_one_line_shortens_a_long_why_and_keeps_the_whole_run() -> None:
    why = "step 0 (drain_queue) still firing: " + "sum(rate(x[5m])) > 0 " * 20
    run = _run(1, "ineffective", [_step(0, "succeeded", 140.0)], detail=why)
    line = run_summary(run)
    assert line.startswith("restart on api — not fixed: step 0 (drain_queue) still firing")
    assert len(line) < 160 and line.endswith("…")
    (r,) = _entries([_alert(1)], [run]).runs
    assert r.run["detail"] == why, "the whole of it behind the click"


def test_a_run_s_one_line_is_cut_between_words() -> None:
    why = (
        "step 0 (restart_service) not verified: ApiResponseTimeHigh's condition still "
        "returned 1 series of this alert after 6m 15s (waited up to 6m 15s)"
    )
    line = run_summary(_run(1, "ineffective", [_step(0, "succeeded", 140.0)], detail=why))
    shown = line.split("not fixed: ", 1)[1].removesuffix("…")
    assert line.endswith("…") and why.startswith(shown) and why[len(shown)] == " ", line


def test_a_run_under_way_says_what_it_is_doing() -> None:
    acting = _run(1, "verifying", [_step(0, "succeeded", 140.0)], finished_at=None)
    (entry,) = [e for e in _entries([_alert(1)], [acting]).entries if e.kind == "remediation"]
    assert entry.text == "restart on api — acted; checking whether it worked"
    assert entry.at == 125.0, "when it began"
    planned = _run(1, "in_flight", [], started_at=None, finished_at=None)
    assert run_summary(planned) == "restart on api — planned"
    assert run_summary(_run(1, "some_new_state", [])) == "restart on api — some_new_state"


def test_a_blocked_run_says_its_guardrail() -> None:
    run = _run(1, "blocked", [], guardrail="cooldown", detail="ran 2 min ago")
    (entry,) = [e for e in _entries([_alert(1)], [run]).entries if e.kind == "escalated"]
    assert entry.text == "restart on api — blocked (cooldown): ran 2 min ago: people were told"


def test_an_approval_asked_and_answered() -> None:
    run = _run(1, "planned", [], approval="rejected", approval_deadline=900.0, approval_at=130.0,
               approval_by="alice", approval_reason="not now", started_at=None,
               finished_at=None)  # fmt: skip
    texts = [e.text for e in _entries([_alert(1)], [run]).entries if e.kind == "remediation"]
    assert texts == [
        "restart on api waits for an operator's approval",
        "restart on api rejected by alice: not now",
        "restart on api — planned",
    ]


def test_the_newest_lines_are_recent_and_the_older_ones_earlier() -> None:
    sent = [_delivery(n) for n in range(1, RECENT_ENTRIES + 4)]
    v = _entries([_alert(1)], deliveries=sent)
    assert len(v.entries) == RECENT_ENTRIES + 4
    assert v.recent == v.entries[-RECENT_ENTRIES:] and v.earlier == v.entries[:4]
    few = _entries([_alert(1)], deliveries=sent[:2])
    assert few.earlier == [] and few.recent == few.entries


def test_acknowledged_silenced_and_handled_from_the_incident_row() -> None:
    alert = _alert(1, acked_at=130.0, acked_by="alice", silence_id="s-1", silenced_until=3700.0,
                   silenced_by="bob", handled_at=150.0, handled_by="carol",
                   handled_note="restarted by hand", closed_at=150.0)  # fmt: skip
    by_kind = {e.kind: e for e in _entries([alert]).entries}
    assert by_kind["acknowledged"].text == "ServiceUnavailable acknowledged by alice"
    assert by_kind["silenced"].at == 3700.0 and "by bob (silence s-1)" in by_kind["silenced"].text
    assert by_kind["handled"].text == (
        "ServiceUnavailable resolved as handled by carol: restarted by hand"
    )
    assert "resolved" not in by_kind, "handled is how it was resolved"


def test_without_the_new_incident_columns_nothing_is_silenced_or_handled() -> None:
    kinds = {e.kind for e in _entries([_alert(1, closed_at=150.0)]).entries}
    assert kinds == {"fired", "resolved"}


def test_the_headline_s_deliveries_carry_their_text_and_the_others_are_counted() -> None:
    headline, other = _alert(1), _alert(2, "ErrorRateHigh")
    mine = [_delivery(n) for n in range(1, 4)]
    view = ConsoleView(
        group([headline, other]),
        {},
        {1: mine},
        {1: {"delivered": 5}, 2: {"delivered": 2, "skipped": 1}},
    )
    (incident,) = view.incidents
    v = timeline(incident, view, {}, lambda d, a: f"text of {d['id']} for {a.alertname}")
    sent = [e.message for e in v.entries if e.kind == "delivery"]
    assert sent == [f"text of {n} for ServiceUnavailable" for n in (1, 2, 3)]
    assert v.hidden_deliveries == 2, "the root has 5, the newest 3 were read"
    assert v.others == [OtherAlert(other, "3 deliveries: 2 delivered, 1 skipped")]
    assert tally({}) == "no deliveries" and tally({"failed": 1}) == "1 delivery: 1 failed"


def test_another_alert_s_own_runbook_and_graph_are_kept_where_they_differ() -> None:
    headline = _alert(1)
    other = ConsoleAlert(2, "ErrorRateHigh", "high", "firing", {"service": "api"},
                         {"runbook_url": "https://example.org/rb/ErrorRateHigh"}, 103.0,
                         generator_url="http://prom/graph?g0.expr=errors")  # fmt: skip
    view = ConsoleView(group([headline, other]), {}, {}, {})
    (incident,) = view.incidents
    (o,) = timeline(incident, view, {}, lambda d, a: None).others
    assert (o.runbook, o.graph) == (
        "https://example.org/rb/ErrorRateHigh",
        "http://prom/graph?g0.expr=errors",
    )


def test_a_skipped_delivery_on_an_unconfigured_channel_says_nobody_was_paged() -> None:
    skipped = _delivery(1, channel="sms", recipient="", status="skipped", note="not configured")
    (entry,) = [
        e for e in _entries([_alert(1)], deliveries=[skipped]).entries if e.kind == "delivery"
    ]
    assert entry.text == "nobody was paged: SMS is not configured"
