"""cli/incidents.py's list: one line per incident in the terminal, whatever the
labels say (a line break or a terminal's escape in a label stays inside its row)."""

from __future__ import annotations

import io
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from support.line_breaks import hostile_text, one_line_in_every_reader

from alert_webhook.cli.incidents import list_open

NOW = 1_800_000_000.0


class OpenIncidents:
    """What `GET /api/incidents?state=open` answers, without a webhook."""

    def __init__(self, incidents: list[dict[str, Any]]) -> None:
        self.incidents = incidents

    def call(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        assert (method, path) == ("GET", "/api/incidents?state=open")
        return {"incidents": self.incidents}


def _incident(alert_id: int, alertname: str, labels: dict[str, str], acked_by: str | None):
    return {
        "alert_id": alert_id, "alertname": alertname, "severity": "critical",
        "labels": labels, "opened_at": NOW - 60, "acked_by": acked_by,
        "silenced_until": None, "tier": 1, "flag": None,
    }  # fmt: skip


@given(
    alertname=hostile_text(min_size=1),
    instance=hostile_text(),
    service=hostile_text(),
    acked_by=st.none() | hostile_text(min_size=1),
)
def test_each_incident_is_one_row_of_the_terminal(alertname, instance, service, acked_by) -> None:
    labels = {"instance": instance, "service": service}
    api = OpenIncidents([_incident(7, alertname, labels, acked_by)])
    out = io.StringIO()
    list_open(api, out, NOW)  # type: ignore[arg-type]
    printed = out.getvalue()
    assert printed.endswith("\n")
    rows = printed[:-1].split("\n")
    assert len(rows) == 2 and all(one_line_in_every_reader(row) for row in rows)
    assert rows[1].split()[:2] == ["7", "critical"]
