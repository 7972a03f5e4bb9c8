"""Every alert has a runbook in the plan's shape, every runbook an alert, and
every runbook_url leads to a page that exists: the rules' alerts and the alerts
the webhook raises itself (found in alert_webhook's code)."""

from __future__ import annotations

import re

import pytest
from ruleset import REPO, RULES, RUNBOOK_BASE, RUNBOOKS, alert_names, alerts, webhook_alerts

from alert_webhook.ingest.own import PIPELINE_BROKEN

SECTIONS = [
    "## Symptom and impact",
    "## Diagnosis",
    "## What the automation does first",
    "## Recovery when the automation did not fix it",
    "## Escalation",
    "## Verification",
]
DEADLINES = {
    "critical": "Deadline: immediately",
    "high": "Deadline: within 1 hour",
    "medium": "Deadline: within 4 hours",
    "low": "Deadline: within 24 hours",
}


WEBHOOK_ALERTS = webhook_alerts()


def _id(rule) -> str:
    return f"{rule.name}-{rule.raw['labels']['severity']}"


def test_every_alert_has_a_runbook_and_every_runbook_an_alert() -> None:
    pages = {path.stem for path in RUNBOOKS.glob("*.md")} - {"README"}
    names = alert_names() | {rule.name for rule in WEBHOOK_ALERTS}
    assert names - pages == set(), "alerts without a runbook"
    assert pages - names == set(), "runbooks without an alert"


def test_the_webhooks_own_alerts_are_declared() -> None:
    # The webhook's Watchdog alarm must be among them, or this proves nothing.
    assert PIPELINE_BROKEN in {rule.name for rule in WEBHOOK_ALERTS}
    assert not {rule.name for rule in WEBHOOK_ALERTS} & alert_names(), "also a rule's name"


@pytest.mark.parametrize("rule", WEBHOOK_ALERTS, ids=_id)
def test_the_webhooks_own_alert_links_its_runbook(rule) -> None:
    url = rule.raw["annotations"].get("runbook_url", "")
    # The same base as the rules', so a link in an SMS or email can be followed.
    assert url == f"{RUNBOOK_BASE}{rule.name}.md", f"{rule.name}'s runbook_url is {url!r}"
    assert (RUNBOOKS / f"{rule.name}.md").is_file(), f"{rule.name} ({rule.file}) has no runbook"
    assert (REPO / rule.file).is_file()


@pytest.mark.parametrize("rule", alerts(), ids=_id)
def test_runbook_url_resolves_to_a_page(rule) -> None:
    url = rule.raw["annotations"]["runbook_url"]
    assert url.startswith(RUNBOOK_BASE), url
    page = RUNBOOKS / url.removeprefix(RUNBOOK_BASE)
    assert page.is_file(), f"{rule.name}: {url} points nowhere"


@pytest.mark.parametrize("rule", alerts() + WEBHOOK_ALERTS, ids=_id)
def test_runbook_has_the_plans_shape_and_the_severitys_deadline(rule) -> None:
    text = (RUNBOOKS / f"{rule.name}.md").read_text()
    assert text.startswith(f"# {rule.name}\n")
    positions = [text.find(section + "\n") for section in SECTIONS]
    missing = [section for section, at in zip(SECTIONS, positions, strict=True) if at < 0]
    assert missing == []
    assert positions == sorted(positions), "sections out of order"
    diagnosis = text[positions[1] : positions[2]]
    assert re.search(r"Check:.*Command:.*Expected:", diagnosis, re.S)
    verification = text[positions[5] :]
    assert "Test:" in verification and "Expected:" in verification
    # The severity row names this rule's tier, and the page gives its deadline.
    severity = rule.raw["labels"]["severity"]
    (severity_row,) = [line for line in text.splitlines() if line.startswith("| Severity |")]
    assert severity in severity_row
    assert DEADLINES[severity].removeprefix("Deadline: ") in text


def test_the_rules_readme_tables_every_alert_and_tier() -> None:
    rows = [
        line for line in (RULES / "README.md").read_text().splitlines() if line.startswith("| ")
    ]
    for rule in alerts():
        severity = rule.raw["labels"]["severity"]
        row = [r for r in rows if r.startswith(f"| {rule.name} ") and f"| {severity}:" in r]
        assert len(row) == 1, f"{rule.name} ({severity}) is not in rules/README.md's table"
        assert f"| {rule.raw['for']} |" in row[0], f"{rule.name}: README's `for` differs"
        assert f"../docs/runbooks/{rule.name}.md" in row[0]
