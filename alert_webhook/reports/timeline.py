"""The lines of an incident's record in the order things happened, shared by the
console's timeline (dashboard/timeline.py) and the post-incident report
(report.py): a delivery per channel and recipient with its state, an
escalation (a deadline missed, a channel failed over), a remediation run in one
line, acknowledged, silenced, handled, resolved. The wording is made here once;
each reader chooses which lines it shows."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from alert_webhook.delivery.rows import Purpose
from alert_webhook.incidents.episodes import ConsoleAlert
from alert_webhook.remediation.states import WAITING, RunStatus
from alert_webhook.text import one_line
from alert_webhook.times import duration


@dataclass(frozen=True)
class Entry:
    kind: str  # the <li data-kind> the browser tests read
    at: float
    text: str
    message: str | None = None  # the text a delivery carried, shown collapsed
    delivery: int | None = None  # its delivery's id: the collapsed text's own id


def delivery_text(row: Mapping[str, Any], unconfigured: Mapping[str, str]) -> str:
    channel = str(row["channel"])
    if row["status"] == "skipped" and channel in unconfigured:
        shown = channel.upper() if channel == "sms" else channel
        return f"nobody was paged: {shown} is not configured"
    to = f" to {row['recipient']}" if row["recipient"] else ""
    text = f"{channel}{to}: {row['status']}"
    if row["purpose"] != Purpose.NOTIFY:
        text += f" ({row['purpose']})"
    if row.get("note"):
        text += f", {row['note']}"
    if row.get("last_error"):
        text += f" ({row['last_error']})"
    return text


def tally(counts: Mapping[str, int]) -> str:
    """An alert's deliveries by state, for an alert whose deliveries are not shown:
    "3 deliveries: 2 delivered, 1 skipped"."""
    total = sum(counts.values())
    if not total:
        return "no deliveries"
    states = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    return f"{total} deliver{'y' if total == 1 else 'ies'}: {states}"


def escalations(alert: ConsoleAlert, sent: list[dict[str, Any]]) -> Iterator[Entry]:
    """A deadline missed (the `tier-N` deliveries) or a channel failed over
    (`failover:<channel>`): one entry each, when its first message went."""
    first: dict[str, float] = {}
    for d in sent:
        purpose = str(d["purpose"])
        if purpose.startswith((f"{Purpose.TIER}-", f"{Purpose.FAILOVER}:")):
            first[purpose] = min(first.get(purpose, d["received_at"]), d["received_at"])
    for purpose, at in first.items():
        if purpose.startswith(Purpose.TIER):
            tier = purpose.partition("-")[2]
            text = f"{alert.alertname}: response deadline missed, sent to tier {tier}"
        else:
            failed = purpose.partition(":")[2]
            text = f"{alert.alertname}: {failed} delivery failed, sent on other channels"
        yield Entry("escalated", at, text)


# A run's one line says at most this much of why it ended so; the rest is behind
# the click, with its steps.
SHORT_DETAIL = 120


def short(detail: object) -> str:
    """The detail in at most SHORT_DETAIL characters, cut between words ("6m 1…"
    would misread as a duration)."""
    text = one_line(str(detail or "")).strip()
    if len(text) <= SHORT_DETAIL:
        return text
    cut = text[:SHORT_DETAIL]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut[:-1]).rstrip() + "…"


# What a run not yet ended (or ended without acting) is doing, in words.
_UNDER_WAY = {
    RunStatus.PLANNED: "planned",
    RunStatus.IN_FLIGHT: "acting",
    RunStatus.AWAITING_APPROVAL: "waits for an operator's approval",
    RunStatus.VERIFYING: "acted; checking whether it worked",
    RunStatus.SKIPPED: "dry run: nothing was done",
}
_NOT_FIXED = {
    RunStatus.INEFFECTIVE: "not fixed",
    RunStatus.FAILED: "failed",
    RunStatus.BLOCKED: "blocked",
}


def took(seconds: float) -> str:
    """How long a fix took to verify: in seconds up to ten minutes ("62 s"), where
    a minute's rounding would hide what the verification waited."""
    return f"{round(seconds)} s" if seconds < 600 else duration(seconds)


def run_summary(run: Mapping[str, Any]) -> str:
    """A run in one line, from its stored status and times: "restart-demo on demo —
    verified after 62 s", "drain-queue on worker — not fixed: <why, shortened>".
    Its steps, their output and what was checked stay behind a click; the
    detail's wording is the runner's, shown as stored."""
    name = f"{run['playbook']} on {run['target']}"
    status = str(run["status"])
    if status == RunStatus.VERIFIED:
        began, ended = run.get("started_at") or run.get("planned_at"), run.get("finished_at")
        after = f" after {took(ended - began)}" if ended and began else ""
        return f"{name} — verified{after}"
    if status in _NOT_FIXED:
        said = _NOT_FIXED[RunStatus(status)]
        if run.get("guardrail"):
            said += f" ({run['guardrail']})"
        why = short(run.get("detail"))
        return f"{name} — {said}" + (f": {why}" if why else "")
    if status == RunStatus.CANCELLED:
        why = short(run.get("detail"))
        return f"{name} — cancelled (resolved)" + (f": {why}" if why else "")
    if status == RunStatus.PLANNED and run.get("guardrail") == WAITING:
        return f"{name} — waits for the run acting on its target"
    if status == RunStatus.IN_FLIGHT and not run.get("started_at"):
        status = RunStatus.PLANNED
    return f"{name} — {_UNDER_WAY.get(status, status)}"  # type: ignore[call-overload]


def remediation_entries(run: Mapping[str, Any]) -> Iterator[Entry]:
    """An approval asked for and answered; then the run in one line, when it ended
    (or when it began, while it acts)."""
    name = f"{run['playbook']} on {run['target']}"
    if run.get("approval_deadline") is not None:
        yield Entry("remediation", run["planned_at"], f"{name} waits for an operator's approval")
    if run.get("approval_at") is not None and run.get("approval") in ("approved", "rejected"):
        reason = f": {run['approval_reason']}" if run.get("approval_reason") else ""
        text = f"{name} {run['approval']} by {run['approval_by']}{reason}"
        yield Entry("remediation", run["approval_at"], text)
    if run["status"] == RunStatus.AWAITING_APPROVAL:
        return
    ended = run.get("finished_at")
    kind = "remediation"
    if ended is not None and run["status"] == RunStatus.VERIFIED:
        kind = "verified"
    elif ended is not None and run["status"] in _ESCALATING:
        kind = "escalated"
    at = ended or run.get("started_at") or run.get("approval_at") or run["planned_at"]
    text = run_summary(run) + (": people were told" if kind == "escalated" else "")
    yield Entry(kind, at, text)


_ESCALATING = frozenset(s.value for s in RunStatus if s.escalates)


def operator_entries(alert: ConsoleAlert) -> Iterator[Entry]:
    """What people did: acknowledged, silenced (a silence is shown by when it ends),
    handled; and the resolution."""
    row = alert.incident
    if alert.acked_at is not None:
        text = f"{alert.alertname} acknowledged by {alert.acked_by}"
        yield Entry("acknowledged", alert.acked_at, text)
    if row.get("silence_id") and row.get("silenced_until") is not None:
        by = f" by {row['silenced_by']}" if row.get("silenced_by") else ""
        text = f"{alert.alertname} silenced{by} (silence {row['silence_id']}) until then"
        yield Entry("silenced", row["silenced_until"], text)
    if row.get("handled_at") is not None:
        note = f": {row['handled_note']}" if row.get("handled_note") else ""
        text = f"{alert.alertname} resolved as handled by {row.get('handled_by')}{note}"
        yield Entry("handled", row["handled_at"], text)
    elif alert.closed_at is not None:
        yield Entry("resolved", alert.closed_at, f"{alert.alertname} resolved")
