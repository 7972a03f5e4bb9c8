"""What the weekly noise digest says: a subject of figures (and the worst rule's
name, on one line) and the noise report's text tables (noise_text.py). Plain
text only: no label value is ever markup, a link or a header of its own."""

from __future__ import annotations

from urllib.parse import urljoin

from alert_webhook.reports import noise_text
from alert_webhook.reports.noise import NoiseReport
from alert_webhook.text import one_line

SUBJECT_NAME_WIDTH = 60  # the worst rule's name in the subject, cut with "…"


def fired(report: NoiseReport) -> int:
    return sum(r.fired for r in report.rules)


def subject(week: str, report: NoiseReport) -> str:
    never = sum(r.never_acted_on for r in report.rules)
    text = f"[noise report] {week}: {fired(report)} fired, {never} never acted on"
    worst = report.rules[0] if report.rules else None
    if worst is not None and worst.never_acted_on:
        name = one_line(worst.name).strip() or "(none)"
        if len(name) > SUBJECT_NAME_WIDTH:
            name = name[: SUBJECT_NAME_WIDTH - 1] + "…"
        text += f"; worst: {name}"
    return one_line(text)


def body(week: str, report: NoiseReport, dashboard_url: str) -> str:
    """The digest's text, ending in a newline."""
    page = urljoin(dashboard_url, "reports/noise?since=7d")
    return (
        f"Weekly noise digest of recovery-stack, ISO week {week}\n\n"
        f"{noise_text.write(report)}\n"
        f"The noise report of the last 7 days, on the console: {page}\n"
        "Sent because reports.digest is enabled in the webhook's settings.\n"
    )
