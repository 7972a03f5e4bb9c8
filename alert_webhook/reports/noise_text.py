"""The noise report as plain text: three tables, worst offender first — what the
CLI prints and the weekly digest's email says. Names are label values: each is
put on one line (`one_line`) and never read as anything but text."""

from __future__ import annotations

import time
from collections.abc import Sequence

from alert_webhook.reports.noise import NoiseReport, NoiseRow
from alert_webhook.text import one_line
from alert_webhook.times import duration

NAME_WIDTH = 40  # a longer name is cut, with "…"
_ROW_HEAD = ("fired", "flaps", "unacked", "median", "healed", "messages", "never acted on")
_BOOK_HEAD = ("runs", "verified", "ineffective", "failed", "blocked", "cancelled", "other")


def _name(text: str) -> str:
    text = one_line(text) or "(none)"
    return text if len(text) <= NAME_WIDTH else text[: NAME_WIDTH - 1] + "…"


def _share(part: int, whole: int) -> str:
    return f"{part} ({round(100 * part / whole)} %)" if whole else str(part)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[n]) for r in [head, *rows]) for n in range(len(head))]
    lines = []
    for row in [head, *rows]:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _rows(first: str, rows: Sequence[NoiseRow]) -> list[str]:
    if not rows:
        return [f"{first}: none fired"]
    cells = [
        (
            _name(r.name),
            str(r.fired),
            str(r.flaps),
            str(r.resolved_unacknowledged),
            "-" if r.median_duration_seconds is None else duration(r.median_duration_seconds),
            _share(r.healed, r.fired),
            str(r.messages),
            str(r.never_acted_on),
        )  # fmt: skip
        for r in rows
    ]
    return _table((first, *_ROW_HEAD), cells)


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


def write(report: NoiseReport) -> str:
    """The whole report, ending in a newline."""
    lines = [
        f"Noise report, {_when(report.since)} to {_when(report.until)}",
        "",
        "Worst first: never acted on (paged, never acknowledged, resolved by itself),",
        "then messages sent, times fired, flaps. unacked: resolved before anyone",
        "acknowledged it; healed: a remediation run recovered it.",
        "",
        *_rows("alert rule", report.rules),
        "",
        *_rows("service", report.services),
        "",
    ]
    if report.playbooks:
        cells = [
            (
                _name(p.playbook),
                str(p.runs),
                str(p.verified),
                str(p.ineffective),
                str(p.failed),
                str(p.blocked),
                str(p.cancelled),
                str(p.other),
            )  # fmt: skip
            for p in report.playbooks
        ]
        lines += _table(("playbook", *_BOOK_HEAD), cells)
    else:
        lines.append("playbook: no runs")
    return "\n".join(lines) + "\n"
