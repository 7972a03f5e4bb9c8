"""Each incident's timeline on the console: fired, each delivery per channel with
its state, acknowledged, resolved — in the order they happened."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from alert_webhook.store.console import ServiceIncident


@dataclass(frozen=True)
class Entry:
    kind: str  # the <li data-kind> the browser tests read
    at: float
    text: str


def _delivery_text(row: Mapping[str, Any], unconfigured: Mapping[str, str]) -> str:
    channel = str(row["channel"])
    if row["status"] == "skipped" and channel in unconfigured:
        shown = channel.upper() if channel == "sms" else channel
        return f"nobody was paged: {shown} is not configured"
    text = f"{channel} to {row['recipient']}: {row['status']}"
    if row.get("last_error"):
        text += f" ({row['last_error']})"
    return text


def timeline(
    incident: ServiceIncident,
    deliveries: Iterable[Mapping[str, Any]],
    unconfigured: Mapping[str, str],
) -> list[Entry]:
    """`unconfigured` maps a channel's name to why it is not configured: a delivery
    skipped on such a channel means nobody was told there, and the page says so."""
    ids = {a.alert_id: a.alertname for a in incident.alerts}
    entries = [Entry("fired", a.received_at, f"{a.alertname} fired") for a in incident.alerts]
    for row in deliveries:
        if row["alert_id"] in ids:
            at = row["finished_at"] or row["received_at"]
            entries.append(Entry("delivery", at, _delivery_text(row, unconfigured)))
    for a in incident.alerts:
        if a.acked_at is not None:
            entries.append(
                Entry("acknowledged", a.acked_at, f"{a.alertname} acknowledged by {a.acked_by}")
            )
        if a.closed_at is not None:
            entries.append(Entry("resolved", a.closed_at, f"{a.alertname} resolved"))
    return sorted(entries, key=lambda e: e.at)
