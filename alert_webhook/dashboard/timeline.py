"""Each incident's timeline on the console, in the order things happened: fired,
each delivery of the headline alert per channel with its state (and the text it
carried), each remediation run in one line (verified or escalated when it
ended), acknowledged, silenced, handled, resolved. The other alerts of the
incident show their deliveries by state (the inhibit rules mute most of them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alert_webhook.dashboard.console import ConsoleAlert, ConsoleView, ServiceIncident
from alert_webhook.reports.timeline import (
    Entry,
    delivery_text,
    escalations,
    operator_entries,
    remediation_entries,
    run_summary,
    tally,
)

# What a delivery's text is rendered from: the row and the alert it carries.
MessageText = Callable[[Mapping[str, Any], ConsoleAlert], str | None]


@dataclass(frozen=True)
class OtherAlert:
    """An alert of the incident besides its headline: its deliveries by state, and
    its own runbook and Prometheus URLs where they differ from the headline's."""

    alert: ConsoleAlert
    sent: str
    runbook: str = ""
    graph: str = ""


def _other(alert: ConsoleAlert, headline: ConsoleAlert, counts: Mapping[str, int]) -> OtherAlert:
    runbook = alert.annotations.get("runbook_url", "")
    mine = runbook if runbook != headline.annotations.get("runbook_url", "") else ""
    graph = alert.generator_url if alert.generator_url != headline.generator_url else ""
    return OtherAlert(alert, tally(counts), mine, graph)


@dataclass(frozen=True)
class RunLine:
    """A remediation run as the page shows it: one line, and the stored run (its
    steps, their output, what was checked) behind a click."""

    run: dict[str, Any]
    summary: str


@dataclass(frozen=True)
class IncidentView:
    """An incident as the page shows it: its timeline, its alerts' remediation runs
    (oldest first, one line each), how many of the headline's deliveries the
    timeline leaves out, and the other alerts with their deliveries by state."""

    incident: ServiceIncident
    entries: list[Entry]
    runs: list[RunLine] = field(default_factory=list)
    hidden_deliveries: int = 0
    others: list[OtherAlert] = field(default_factory=list)

    @property
    def earlier(self) -> list[Entry]:
        """The timeline's older lines, collapsed on the page."""
        return self.entries[: max(len(self.entries) - RECENT_ENTRIES, 0)]

    @property
    def recent(self) -> list[Entry]:
        return self.entries[max(len(self.entries) - RECENT_ENTRIES, 0) :]

    @property
    def firing_others(self) -> list[OtherAlert]:
        """The other alerts still open: `others` lists them first."""
        return [o for o in self.others if o.alert.open]

    @property
    def resolved_others(self) -> list[OtherAlert]:
        """The other alerts no longer open: collapsed on the page."""
        return [o for o in self.others if not o.alert.open]


# The newest this many timeline lines are shown; the earlier ones are collapsed.
RECENT_ENTRIES = 6


def timeline(
    incident: ServiceIncident,
    view: ConsoleView,
    unconfigured: Mapping[str, str],
    message_text: MessageText,
) -> IncidentView:
    """`unconfigured` maps a channel's name to why it is not configured: a delivery
    skipped on such a channel means nobody was told there, and the page says so."""
    headline = incident.headline
    entries = [Entry("fired", a.received_at, f"{a.alertname} fired") for a in incident.alerts]
    sent = view.deliveries.get(headline.alert_id, [])
    for d in sent:
        text, message = delivery_text(d, unconfigured), message_text(d, headline)
        at = d["finished_at"] or d["received_at"]
        entries.append(Entry("delivery", at, text, message, d["id"]))
    entries.extend(escalations(headline, sent))
    runs = []
    for alert in incident.alerts:
        for run in view.runs.get(alert.alert_id, []):
            runs.append(RunLine(run, run_summary(run)))
            entries.extend(remediation_entries(run))
        entries.extend(operator_entries(alert))
    # Open alerts first (in the headline's order), then those no longer firing.
    others = [
        _other(a, headline, view.tallies.get(a.alert_id, {}))
        for a in sorted(incident.alerts[1:], key=lambda a: not a.open)
    ]
    hidden = view.delivery_count(headline.alert_id) - len(sent)
    entries.sort(key=lambda e: e.at)
    runs.sort(key=lambda r: r.run["id"])
    return IncidentView(incident, entries, runs, hidden, others)
