"""reports/digest_text.py: the digest's subject and text; label values stay
text on one line, whatever they hold."""

from __future__ import annotations

from datetime import UTC, datetime

from alert_webhook.reports.digest_text import SUBJECT_NAME_WIDTH, body, subject
from alert_webhook.reports.noise import NoiseReport, NoiseRow, PlaybookRow

SINCE = datetime(2026, 11, 23, 8, tzinfo=UTC).timestamp()
HOSTILE = 'Disk\r\nBcc: evil@example.org\r\n\r\n<a href="javascript:x">[link](http://evil)</a>'


def report(*rules: NoiseRow) -> NoiseReport:
    return NoiseReport(
        SINCE, SINCE + 7 * 86400, list(rules), list(rules),
        [PlaybookRow("restart-demo", runs=3, verified=1, failed=2)],
    )  # fmt: skip


def test_the_subject_says_the_figures_and_the_worst_rule() -> None:
    noisy = report(
        NoiseRow("DiskFull", fired=4, messages=4, never_acted_on=3),
        NoiseRow("CpuHigh", fired=2, messages=1),
    )
    assert subject("2026-W49", noisy) == (
        "[noise report] 2026-W49: 6 fired, 3 never acted on; worst: DiskFull"
    )


def test_without_alerts_never_acted_on_no_rule_is_named() -> None:
    calm = report(NoiseRow("CpuHigh", fired=2, healed=2))
    assert subject("2026-W49", calm) == "[noise report] 2026-W49: 2 fired, 0 never acted on"


def test_a_hostile_name_stays_one_line_of_text() -> None:
    hostile = report(NoiseRow(HOSTILE, fired=1, messages=1, never_acted_on=1))
    title = subject("2026-W49", hostile)
    assert "\r" not in title and "\n" not in title
    assert title.startswith("[noise report] 2026-W49: 1 fired, 1 never acted on; worst: Disk Bcc:")
    assert len(title.split("worst: ", 1)[1]) == SUBJECT_NAME_WIDTH
    text = body("2026-W49", hostile, "http://console.example/")
    # In the tables the name is one line, cut, never a line of its own.
    assert not any(line.startswith("Bcc:") for line in text.splitlines())
    assert "\nDisk Bcc: evil@example.org <a href=" in text


def test_the_body_is_the_noise_reports_tables_and_the_pages_address() -> None:
    text = body(
        "2026-W49",
        report(NoiseRow("DiskFull", fired=4, messages=4, never_acted_on=3)),
        "https://alerts.example.org/",
    )
    lines = text.splitlines()
    assert lines[0] == "Weekly noise digest of recovery-stack, ISO week 2026-W49"
    assert "Noise report, 2026-11-23 08:00 UTC to 2026-11-30 08:00 UTC" in lines
    assert any(line.startswith("alert rule") and "never acted on" in line for line in lines)
    assert any(line.startswith("DiskFull") for line in lines)
    assert any(line.startswith("restart-demo") for line in lines)
    assert (
        "The noise report of the last 7 days, on the console: "
        "https://alerts.example.org/reports/noise?since=7d"
    ) in lines
    assert text.endswith("\n")
