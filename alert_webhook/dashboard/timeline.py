"""Each incident's timeline on the console, in the order things happened: fired,
each delivery of the root alert per channel with its state (and the text it
carried), each remediation step with its outcome, verified or escalated,
acknowledged, silenced, handled, resolved. The other alerts of the incident show
their deliveries by state (the inhibit rules mute most of them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from alert_webhook.store.console import ConsoleAlert, ConsoleView, ServiceIncident
from alert_webhook.store.rows import Purpose, RunStatus

# What a delivery's text is rendered from: the row and the alert it carries.
MessageText = Callable[[Mapping[str, Any], ConsoleAlert], str | None]


@dataclass(frozen=True)
class Entry:
    kind: str  # the <li data-kind> the browser tests read
    at: float
    text: str
    message: str | None = None  # the text a delivery carried, shown collapsed
    delivery: int | None = None  # its delivery's id: the collapsed text's own id


@dataclass(frozen=True)
class OtherAlert:
    """An alert of the incident besides its root: its deliveries by state, and its
    own runbook and Prometheus URLs where they differ from the root's."""

    alert: ConsoleAlert
    sent: str
    runbook: str = ""
    graph: str = ""


def _other(alert: ConsoleAlert, root: ConsoleAlert, counts: Mapping[str, int]) -> OtherAlert:
    runbook = alert.annotations.get("runbook_url", "")
    mine = runbook if runbook != root.annotations.get("runbook_url", "") else ""
    graph = alert.generator_url if alert.generator_url != root.generator_url else ""
    return OtherAlert(alert, tally(counts), mine, graph)


@dataclass(frozen=True)
class IncidentView:
    """An incident as the page shows it: its timeline, its alerts' remediation runs
    (oldest first), how many of the root's deliveries the timeline leaves out, and
    the other alerts with their deliveries by state."""

    incident: ServiceIncident
    entries: list[Entry]
    runs: list[dict[str, Any]] = field(default_factory=list)
    hidden_deliveries: int = 0
    others: list[OtherAlert] = field(default_factory=list)


def _delivery_text(row: Mapping[str, Any], unconfigured: Mapping[str, str]) -> str:
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


def _escalations(alert: ConsoleAlert, sent: list[dict[str, Any]]) -> Iterator[Entry]:
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


def _step_text(run: Mapping[str, Any], step: Mapping[str, Any]) -> str:
    parts = [str(step["status"])]
    if step.get("exit_status") is not None:
        parts.append(f"exit {step['exit_status']}")
    if step.get("detail"):
        parts.append(str(step["detail"]))
    return f"{run['playbook']} step {step['step']} {step['action']}: {', '.join(parts)}"


def _remediation(alert: ConsoleAlert, run: Mapping[str, Any]) -> Iterator[Entry]:
    """Each step with its outcome; an approval asked for and answered; the ending."""
    name = f"{run['playbook']} on {run['target']}"
    if run.get("approval_deadline") is not None:
        yield Entry("remediation", run["planned_at"], f"{name} waits for an operator's approval")
    if run.get("approval_at") is not None and run.get("approval") in ("approved", "rejected"):
        reason = f": {run['approval_reason']}" if run.get("approval_reason") else ""
        text = f"{name} {run['approval']} by {run['approval_by']}{reason}"
        yield Entry("remediation", run["approval_at"], text)
    for step in run["steps"]:
        yield Entry("remediation", step["finished_at"] or step["started_at"], _step_text(run, step))
    status, ended = RunStatus(run["status"]), run.get("finished_at")
    if ended is None:
        return
    detail = f": {run['detail']}" if run.get("detail") else ""
    if status is RunStatus.VERIFIED:
        yield Entry("verified", ended, f"{name} verified: {alert.alertname} cleared{detail}")
    elif status.escalates:
        why = f" ({run['guardrail']})" if run.get("guardrail") else ""
        yield Entry("escalated", ended, f"{name} {status}{why}{detail}: people were told")
    elif not run["steps"]:
        yield Entry("remediation", ended, f"{name} {status}{detail}")


def _operator_entries(alert: ConsoleAlert) -> Iterator[Entry]:
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


def timeline(
    incident: ServiceIncident,
    view: ConsoleView,
    unconfigured: Mapping[str, str],
    message_text: MessageText,
) -> IncidentView:
    """`unconfigured` maps a channel's name to why it is not configured: a delivery
    skipped on such a channel means nobody was told there, and the page says so."""
    root = incident.root
    entries = [Entry("fired", a.received_at, f"{a.alertname} fired") for a in incident.alerts]
    sent = view.deliveries.get(root.alert_id, [])
    for d in sent:
        text, message = _delivery_text(d, unconfigured), message_text(d, root)
        at = d["finished_at"] or d["received_at"]
        entries.append(Entry("delivery", at, text, message, d["id"]))
    entries.extend(_escalations(root, sent))
    runs = []
    for alert in incident.alerts:
        for run in view.runs.get(alert.alert_id, []):
            runs.append(run)
            entries.extend(_remediation(alert, run))
        entries.extend(_operator_entries(alert))
    others = [_other(a, root, view.tallies.get(a.alert_id, {})) for a in incident.alerts[1:]]
    hidden = view.delivery_count(root.alert_id) - len(sent)
    return IncidentView(incident, sorted(entries, key=lambda e: e.at), runs, hidden, others)
