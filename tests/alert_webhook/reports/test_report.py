"""reports/report.py on both stores: an incident recorded through the real ingest
path (with the remediation planner) and worked by a real runner on a fake clock
— its episode, deliveries, run with steps and verification, follow-ups — and
the report's refusals for an open or unknown incident."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "remediation"))
from runs_support import Harness, book, command  # noqa: E402
from webhook_support import make_alert  # noqa: E402

from alert_webhook.reports.markdown import write  # noqa: E402
from alert_webhook.reports.report import NoReport, closed_record  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture
def store(any_store):
    return any_store


def _healed(store) -> Harness:
    h = Harness(store, [book("DemoDown", command("print('restarted demo')"))])
    h.fire("DemoDown", service="demo")
    assert h.runner.run_once() == 1  # acts
    assert h.settle() == 1  # verifies: the fake Prometheus has nothing of the alert
    assert h.runs()[0]["status"] == "verified"
    h.clock.advance(30)
    h.record({**_alert(h), "status": "resolved"})
    return h


def _alert(h: Harness) -> dict:
    return make_alert("a", alertname="DemoDown", starts_at="2026-11-28T09:00:00Z", service="demo")


def test_a_healed_incident_reads_whole_with_its_run_and_follow_ups(store) -> None:
    h = _healed(store)
    record = closed_record(store.reports.record(1), 1)
    assert not isinstance(record, NoReport)
    assert [a.alert_id for a in record.incident.alerts] == [1]
    assert record.automation.verdict == "healed"
    [run] = record.all_runs
    assert run["steps"][0]["output"].strip() == "restarted demo"
    assert run["verify_query"] == "up"
    kinds = [e.kind for e in record.timeline()]
    assert kinds[0] == "fired" and kinds[-1] == "resolved" and "verified" in kinds
    store.follow_ups.add(1, "find why demo died", "alice", h.clock())
    text = write(store.reports.record(1))  # type: ignore[arg-type]
    assert "- **Automation:** healed it: DemoDown on service=demo — verified after 15 s" in text
    assert "The output:\n\n```\nrestarted demo\n```" in text
    assert "  - Query: ` up `" in text
    assert text.rstrip().endswith("alice: find why demo died")


def test_the_report_covers_the_services_episode_and_no_other(store) -> None:
    h = Harness(store, [])
    first = make_alert("a", alertname="DemoDown", service="demo", starts_at="2026-11-28T09:00:00Z")
    second = make_alert("b", alertname="DemoSlow", service="demo", starts_at="2026-11-28T09:01:00Z")
    other = make_alert("c", alertname="DiskFull", service="db", starts_at="2026-11-28T09:01:00Z")
    h.record(first)
    h.clock.advance(10)
    h.record(second, other)
    h.clock.advance(10)
    h.record({**first, "status": "resolved"}, {**second, "status": "resolved"})
    h.clock.advance(600)
    h.record(make_alert("d", alertname="DemoDown", service="demo",
                        starts_at="2026-11-28T09:30:00Z"))  # fmt: skip
    # Ids by fingerprint: PostgreSQL spends sequence numbers on upserts.
    ids = {fp: store.list_alerts(fingerprint=fp)[0].id for fp in "abcd"}
    by_second = store.reports.record(ids["b"])
    assert by_second.id == ids["a"]  # any alert of the incident names it
    assert sorted(a.alert_id for a in by_second.incident.alerts) == [ids["a"], ids["b"]]
    assert by_second.closed
    later = closed_record(store.reports.record(ids["d"]), ids["d"])
    assert isinstance(later, NoReport) and later.status == 409
    assert f"incident {ids['d']} is still open (1 alert firing, since " in later.problem
    missing = closed_record(store.reports.record(99), 99)
    assert missing == NoReport(404, "no incident 99: no alert has that id")
