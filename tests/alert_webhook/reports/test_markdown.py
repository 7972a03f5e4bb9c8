"""reports/markdown.py: every section of the post-incident report, written from a
record built by hand; every outside value stays text in a real Markdown renderer
(markdown-it-py, CommonMark) — no link, no markup, one line — and an output's
fence is longer than any backtick run inside it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from markdown_it import MarkdownIt

from alert_webhook.incidents.episodes import ConsoleAlert, ServiceIncident
from alert_webhook.incidents.follow_ups import FollowUp
from alert_webhook.reports.markdown import TAIL_LINES, block, code, md, write
from alert_webhook.reports.report import IncidentRecord, graph_url

T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
GRAPH = "Prometheus graph of the alert’s expression over the incident"
HOSTILE = [
    "<script>alert(1)</script>",
    "[click](javascript:alert(1))",
    "javascript:alert(1)",
    "![img](http://evil.example/x.png)",
    "<http://evil.example>",
    "http://evil.example/x and www.evil.example and a@evil.example",
    "line one\n# heading\n- item",
    "``` fence\n```",
    "*bold* _em_ `code` | table | &lt;b&gt;",
]


def _alert(alert_id: int, name: str = "ServiceUnavailable", **kw: Any) -> ConsoleAlert:
    row = {"acked_at": T0 + 42, "acked_by": "alice", "closed_at": T0 + 600, "deadline_at": T0,
           **kw.pop("incident", {})}  # fmt: skip
    labels = {"alertname": name, "service": "demo", "instance": "127.0.0.1:8081",
              **kw.pop("labels", {})}  # fmt: skip
    annotations = {"summary": "demo is down",
                   "runbook_url": "https://example.org/runbooks/ServiceUnavailable",
                   **kw.pop("annotations", {})}  # fmt: skip
    return ConsoleAlert(
        alert_id, name, "critical", "resolved", labels, annotations, T0 + alert_id - 1,
        "2027-01-15T08:00:00Z",
        "http://127.0.0.1:9090/graph?g0.expr=probe_success%7Bjob%3D%22demo%22%7D+%3D%3D+0&g0.tab=1",
        row, **kw,
    )  # fmt: skip


def _run(**kw: Any) -> dict[str, Any]:
    step = {"run_id": 7, "step": 0, "action": "restart_service", "status": "succeeded",
            "exit_status": 0, "duration": 2.0, "started_at": T0 + 60, "finished_at": T0 + 62,
            "output": "\n".join(f"line {n}" for n in range(1, 31)),
            "detail": "verified after 62 s: ServiceUnavailable's condition returned nothing "
                      "of this alert for 10s (waited up to 25s: 15s lag + 10s clear)"}  # fmt: skip
    run = {"id": 7, "alert_id": 1, "playbook": "restart-demo", "target": "demo",
           "status": "verified", "guardrail": None, "planned_at": T0 + 1, "started_at": T0 + 60,
           "finished_at": T0 + 122, "detail": "step 0 (restart_service) verified after 62 s",
           "approval": None, "silence_id": "s-1", "silence_note": "silenced while it acted",
           "verify_query": 'probe_success{job="demo"} == 0',
           "verify_subject": "ServiceUnavailable's condition",
           "verify_why": "waited up to 25s: 15s lag + 10s clear", "steps": [step]}  # fmt: skip
    run.update(kw)
    return run


def _delivery(id: int, **kw: Any) -> dict[str, Any]:
    return {"id": id, "alert_id": 1, "event_status": "firing", "channel": "email",
            "recipient": "oncall@example.org", "purpose": "notify", "status": "delivered",
            "note": None, "last_error": None, "received_at": T0 + 1, "finished_at": T0 + 2,
            **kw}  # fmt: skip


def _record(alerts: list[ConsoleAlert] | None = None, runs: list[dict[str, Any]] | None = None,
            deliveries: list[dict[str, Any]] | None = None,
            notes: list[FollowUp] | None = None) -> IncidentRecord:  # fmt: skip
    alerts = alerts or [_alert(1)]
    runs = [_run()] if runs is None else runs
    by_alert: dict[int, list[dict[str, Any]]] = {}
    for r in runs:
        by_alert.setdefault(r["alert_id"], []).append(r)
    sent = {
        1: deliveries
        if deliveries is not None
        else [
            _delivery(1),
            _delivery(2, channel="sms", recipient="+15550100"),
            _delivery(3, purpose="tier-2", received_at=T0 + 300, finished_at=T0 + 301),
            _delivery(4, event_status="resolved", received_at=T0 + 600, finished_at=T0 + 601),
        ]
    }
    return IncidentRecord(ServiceIncident("demo", alerts), sent, by_alert, notes or [])


def test_the_head_says_what_where_severity_times_and_what_automation_did() -> None:
    text = write(_record())
    assert text.startswith("# Post-incident report: incident 1, demo: ServiceUnavailable\n")
    for line in (
        "- **What:** ServiceUnavailable: demo is down",
        "- **Where:** service demo, instance 127.0.0.1\\:8081",
        "- **Severity:** critical",
        "- **Started:** 2027-01-15 08:00:00 UTC",
        "- **Ended:** 2027-01-15 08:10:00 UTC",
        "- **Duration:** 10 min",
        "- **Time to acknowledge:** 42 s (by alice, 2027-01-15 08:00:42 UTC)",
        "- **Time to resolve:** 10 min",
        "- **Automation:** healed it: restart-demo on demo — verified after 62 s",
    ):
        assert line + "\n" in text, line


def test_the_timeline_has_every_delivery_escalation_run_ack_and_resolution_in_order() -> None:
    section = write(_record()).split("## Timeline\n\n")[1].split("\n\n")[0]
    at = "- 2027-01-15 08:"
    mail = "email to oncall\\@example.org\\: delivered"
    assert section.splitlines() == [
        f"{at}00:00 UTC, fired: ServiceUnavailable fired",
        f"{at}00:02 UTC, delivery: ServiceUnavailable, firing\\: {mail}",
        f"{at}00:02 UTC, delivery: ServiceUnavailable, firing\\: sms to +15550100\\: delivered",
        f"{at}00:42 UTC, acknowledged: ServiceUnavailable acknowledged by alice",
        f"{at}02:02 UTC, verified: restart-demo on demo — verified after 62 s",
        f"{at}05:00 UTC, escalated: ServiceUnavailable\\: response deadline missed, sent to tier 2",
        f"{at}05:01 UTC, delivery: ServiceUnavailable, firing\\: {mail} \\(tier-2\\)",
        f"{at}10:00 UTC, resolved: ServiceUnavailable resolved",
        f"{at}10:01 UTC, delivery: ServiceUnavailable, resolved\\: {mail}",
    ]


def test_a_run_has_its_steps_output_tail_verification_query_and_answer() -> None:
    text = write(_record())
    section = text.split("## Remediation\n\n")[1].split("## Follow-ups")[0]
    assert section.startswith("### Run 7: restart-demo on demo\n\n- Outcome: verified\n")
    assert "- Silence while it acted: silenced while it acted" in section
    assert "- Verification: ServiceUnavailable's condition" in section
    assert '  - Query: ` probe_success{job="demo"} == 0 `' in section
    assert "  - How long: waited up to 25s\\: 15s lag + 10s clear" in section
    assert "  - Answer: verified after 62 s\\: ServiceUnavailable's condition returned" in section
    assert "#### Step 0: restart\\_service, succeeded, exit 0, 2 s" in section
    assert f"The output, its last {TAIL_LINES} of 30 lines:\n\n```\nline 11\n" in section
    assert "line 30\n```" in section and "line 10\n" not in section


def test_links_go_to_the_runbook_and_to_a_graph_of_the_expression_over_the_window() -> None:
    text = write(_record())
    assert "- [Runbook](<https://example.org/runbooks/ServiceUnavailable>)" in text
    url = graph_url(_alert(1).generator_url, T0, T0 + 600)
    assert url == (
        "http://127.0.0.1:9090/graph?g0.expr=probe_success%7Bjob%3D%22demo%22%7D+%3D%3D+0"
        "&g0.tab=0&g0.range_input=20m&g0.end_input=2027-01-15+08%3A15%3A00"
        "&g0.moment_input=2027-01-15+08%3A15%3A00"
    )
    assert f"over the incident](<{url}>)" in text


@pytest.mark.parametrize("url", ["javascript:alert(1)", "//evil.example/x", "ftp://x/y", ""])
def test_a_runbook_or_graph_that_is_not_http_is_no_link(url: str) -> None:
    alert = _alert(1, annotations={"runbook_url": url})
    record = _record([alert])
    text = write(record)
    assert graph_url(url, T0, T0 + 1) is None
    assert "[Runbook]" not in text
    html = MarkdownIt("commonmark").render(text)
    assert "javascript:" not in html.replace("<code>javascript:alert(1)</code>", "")


@pytest.mark.parametrize(
    ("verdict", "runs"),
    [
        ("tried and failed: restart-demo on demo — failed\\: boom",
         [_run(status="failed", detail="boom")]),
        ("was not allowed to: restart-demo on demo — blocked \\(cooldown\\)\\: too soon",
         [_run(status="blocked", guardrail="cooldown", detail="too soon", started_at=None)]),
        ("had no playbook: no remediation run was planned for its alerts", []),
    ],
)  # fmt: skip
def test_automation_says_what_it_did(verdict: str, runs: list[dict[str, Any]]) -> None:
    assert f"- **Automation:** {verdict}\n" in write(_record(runs=runs))


def test_never_acknowledged_and_handled_by_hand_are_said() -> None:
    handled = {"handled_at": T0 + 300, "handled_by": "bob", "handled_note": "rebooted"}
    alert = _alert(1, incident={"acked_at": None, "acked_by": None, "closed_at": T0 + 300,
                                **handled})  # fmt: skip
    text = write(_record([alert], runs=[]))
    assert "- **Time to acknowledge:** never acknowledged\n" in text
    assert "- **Ended:** 2027-01-15 08:05:00 UTC (resolved as handled by bob: rebooted)\n" in text


def test_follow_ups_are_listed_oldest_first() -> None:
    notes = [FollowUp(1, 1, "raise the memory limit", "alice", T0 + 700),
             FollowUp(2, 1, "alert earlier", "bob", T0 + 800)]  # fmt: skip
    text = write(_record(notes=notes))
    assert text.endswith(
        "## Follow-ups\n\n- 2027-01-15 08:11:40 UTC, alice: raise the memory limit\n"
        "- 2027-01-15 08:13:20 UTC, bob: alert earlier\n"
    )
    assert write(_record()).endswith("## Follow-ups\n\nNone yet.\n")


def _hostile_record(value: str) -> IncidentRecord:
    alert = _alert(
        1, value, labels={"service": value, "instance": value, value: value},
        annotations={"summary": value, "runbook_url": value},
        incident={"acked_by": value, "handled_at": T0 + 300, "handled_by": value,
                  "handled_note": value, "closed_at": T0 + 300},
    )  # fmt: skip
    step = {**_run()["steps"][0], "action": value, "detail": value, "output": value}
    run = _run(playbook=value, target=value, detail=value, verify_query=value,
               verify_subject=value, verify_why=value, steps=[step])  # fmt: skip
    notes = [FollowUp(1, 1, value, value, T0 + 900)]
    return _record([alert], [run], [_delivery(1, recipient=value, last_error=value)], notes)


@pytest.mark.parametrize("value", HOSTILE)
def test_no_outside_value_becomes_markup_or_a_link(value: str) -> None:
    text = write(_hostile_record(value))
    html = MarkdownIt("commonmark").render(text)
    # The only links: the report's own two, with their fixed text.
    links = re.findall(r"<a href=\"([^\"]*)\">([^<]*)</a>", html)
    assert html.count("<a ") == len(links)
    assert {text for _, text in links} <= {"Runbook", GRAPH}
    assert all(url.startswith("http") for url, _ in links)
    assert "<img" not in html and "<script" not in html and "<em>" not in html
    assert "<strong>" in html  # the report's own bold labels, and only those
    tags = {t for t in re.findall(r"</?([a-z0-9]+)", html)}
    assert tags <= {"h1", "h2", "h3", "h4", "p", "ul", "li", "strong", "code", "pre", "a"}
    # The title, 5 sections, a run and its step: no heading made by a value.
    assert len(re.findall(r"<h[1-6]>", html)) == 8


def test_values_are_one_line_escaped_text_and_fences_outlast_backticks() -> None:
    assert md("a\nb\r\nc\x1b[31m") == "a b c \\[31m"
    assert md("[x](javascript:y)") == "\\[x\\]\\(javascript\\:y\\)"
    assert md("<b>www.x.org</b>") == "\\<b\\>www\\.x.org\\</b\\>"
    assert code("a ``b`` c") == "``` a ``b`` c ```"
    assert block("x\n````\ny") == ["`````", "x", "````", "y", "`````"]
    rendered = MarkdownIt("commonmark").render("\n".join(block("```\n<b>hi</b>\n```")))
    assert rendered == "<pre><code>```\n&lt;b&gt;hi&lt;/b&gt;\n```\n</code></pre>\n"


def test_a_blocks_lines_are_each_one_line_in_every_reader() -> None:
    said = "ok\tdone\u2028next\x85\x9b31mred\x1b[0m\r\nlast\n\n"
    assert block(said) == ["```", "ok\tdone", "next", " 31mred [0m", "last", "```"]
