"""The preview: what a notification would set off, without running or storing
anything (a `dry_run` playbook, unlike it, records a run, `skipped`).

`POST /api/plan` (the URL keeps its first name) answers with this for each
alert of an Alertmanager payload: the playbook it matches, each step's rendered
parameters, the label values that would be refused and every guardrail that
would stop the run now, judged from the runs on record — and the playbook's
PromQL precondition, asked of Prometheus now, with what it returned. Each alert
is judged on its own against the store, as if it were the only one (two alerts
of one payload on one target would, in fact, be one run and one blocked by
`one_at_a_time`).
"""

from __future__ import annotations

from typing import Any

from alert_webhook.fleet.inventory import NotInFleet
from alert_webhook.ingest.payload import Alert
from alert_webhook.remediation.guardrails import History
from alert_webhook.remediation.playbooks import render_step
from alert_webhook.remediation.runner import FLEET_GUARDRAIL, Remediation, rendered_params
from alert_webhook.remediation.templates import Refused


def preview_alert(remediation: Remediation, alert: Alert, history: History) -> dict[str, Any]:
    """One alert's answer; `would` is `run`, `await_approval` (it would run once an
    operator approves), `blocked`, `dry_run` or `nothing`."""
    answer: dict[str, Any] = {
        "fingerprint": alert.fingerprint, "alertname": alert.alertname,
        "status": alert.status, "playbook": None, "would": "nothing",
    }  # fmt: skip
    if alert.status != "firing":
        return answer | {"reason": "only a firing alert starts a remediation"}
    book = remediation.playbooks.select(alert)
    if book is None:
        return answer | {"reason": "no playbook matches"}
    answer |= {"playbook": book.name, "target": book.target_of(alert.labels)}
    if not book.actions:
        return answer | {"reason": f"{book.name} has no actions: people are told, nothing runs"}
    steps, refused = [], []
    for index, step in enumerate(book.actions):
        entry: dict[str, Any] = {"action": step.action, "timeout": step.timeout}
        try:
            rendered = render_step(step, remediation.playbooks.actions, alert.labels)
            entry["params"] = rendered_params(rendered)
        except Refused as exc:
            entry["refused"] = exc.reasons
            refused += [f"step {index} ({step.action}): {r}" for r in exc.reasons]
        steps.append(entry)
    try:
        host = remediation.host_of(book, alert.labels)
        nowhere = None
    except NotInFleet as exc:
        host, nowhere = None, {"guardrail": FLEET_GUARDRAIL, "reason": str(exc)}
    if host is not None:
        answer["host"] = host.name
    candidate = remediation.candidate(book, answer["target"], None if host is None else host.name)
    if book.precondition is not None and candidate.precondition is not None:
        fact = candidate.precondition
        answer["precondition"] = {
            "query": book.precondition.query, "reason": book.precondition.reason,
            "holds": fact.holds, "detail": fact.detail,
        }  # fmt: skip
    decisions = remediation.blocking(candidate, history)
    blocked_by = [{"guardrail": d.guardrail, "reason": d.reason} for d in decisions]
    blocked_by = ([nowhere] if nowhere else []) + blocked_by
    answer |= {"steps": steps, "refused": refused, "blocked_by": blocked_by}
    if refused or nowhere or any(d.verdict == "blocked" for d in decisions):
        return answer | {"would": "blocked"}
    if decisions:
        return answer | {"would": "dry_run"}
    return answer | {"would": "await_approval" if book.require_approval else "run"}
