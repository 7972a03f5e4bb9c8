"""The post-incident report in Markdown, written from its read model (report.py).

Every value that came from outside — labels, annotations, a script's output, an
operator's note, a delivery's error — is text, never markup or a link, in any
Markdown renderer: on one line, with each character Markdown could read as
syntax backslash-escaped (`md`), so `[x](javascript:…)`, `<script>`, `*`, `#`
and autolinks (`http:`, `www.`, `a@b`) stay literal; a PromQL expression in a
code span and an output's tail in a fenced block, each fenced with more
backticks than the longest run inside. The only links are the runbook (when it
is an http(s) URL) and the Prometheus graph, with fixed text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

from alert_webhook.incidents.follow_ups import FollowUp
from alert_webhook.reports.report import IncidentRecord, verdict_words
from alert_webhook.text import one_line
from alert_webhook.times import duration

# Backslash-escaped wherever they appear: CommonMark lets any ASCII punctuation
# be escaped, and these are the ones that start emphasis, links, images, raw
# HTML, entities, code, tables, headings, and (`:` `@`) autolinks of any scheme.
_SPECIAL = re.compile(r"([\\`*_\[\]()<>!|~&#:@{}])")
_WWW = re.compile(r"(www)\.", re.IGNORECASE)
_BACKTICKS = re.compile(r"`+")
# Of each step's output, the report keeps the end.
TAIL_LINES = 20
TAIL_CHARS = 4000


def md(value: object) -> str:
    """Outside text as literal Markdown text on one line."""
    text = one_line(str(value)).strip()
    return _WWW.sub(r"\1\\.", _SPECIAL.sub(r"\\\1", text))


def _fence_for(text: str, least: int) -> str:
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    return "`" * max(least, longest + 1)


def code(value: object) -> str:
    """Outside text as an inline code span on one line."""
    text = one_line(str(value))
    fence = _fence_for(text, 1)
    return f"{fence} {text} {fence}"


def block(text: str) -> list[str]:
    """Outside text, lines kept (each one line as `one_line` makes it, tabs kept),
    as a fenced code block no line inside can close."""
    lines = ["\t".join(map(one_line, line.split("\t"))) for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    fence = _fence_for("\n".join(lines), 3)
    return [fence, *lines, fence]


def tail(output: str) -> tuple[str, str]:
    """The end of an output and how much of it that is."""
    lines = output.rstrip("\n").split("\n")
    kept = "\n".join(lines[-TAIL_LINES:])[-TAIL_CHARS:]
    if kept == output.rstrip("\n"):
        return kept, "output"
    return kept, f"output, its last {len(kept.splitlines())} of {len(lines)} lines"


def utc(epoch: float | None) -> str:
    if epoch is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _link(text: str, url: str) -> str:
    """A link with fixed text to an http(s) URL (checked by the caller); the
    destination in angle brackets, with what could end it percent-encoded."""
    safe = "".join(f"%{ord(c):02X}" if c in "<>\\ \n\r\t" else c for c in url)
    return f"[{text}](<{safe}>)"


def _head(record: IncidentRecord) -> Iterator[str]:
    i, h = record.incident, record.incident.headline
    summary = h.annotations.get("summary", "")
    yield f"# Post-incident report: incident {record.id}, {md(i.service)}: {md(h.alertname)}"
    yield ""
    if not record.closed:
        yield "**Still open**: this incident has not ended; the report is written once it closes."
        yield ""
    yield f"- **What:** {md(h.alertname)}" + (f": {md(summary)}" if summary else "")
    where = f"service {md(i.service)}" + (f", instance {md(i.instance)}" if i.instance else "")
    yield f"- **Where:** {where}"
    yield f"- **Severity:** {md(h.severity or 'none')}"
    yield f"- **Started:** {utc(i.started_at)}"
    ended = i.resolved_at
    how = ""
    if ended is not None and h.incident.get("handled_at") is not None:
        by, note = h.incident.get("handled_by"), h.incident.get("handled_note") or ""
        how = f" (resolved as handled by {md(by)}" + (f": {md(note)})" if note else ")")
    yield f"- **Ended:** {utc(ended)}{how}"
    yield f"- **Duration:** {duration(ended - i.started_at) if ended is not None else 'still open'}"
    first, tta = record.first_ack, record.time_to_acknowledge
    acked = "never acknowledged"
    if first is not None and tta is not None:
        acked = f"{duration(tta)} (by {md(first.acked_by)}, {utc(first.acked_at)})"
    yield f"- **Time to acknowledge:** {acked}"
    ttr = record.time_to_resolve
    yield f"- **Time to resolve:** {duration(ttr) if ttr is not None else 'still open'}"
    auto = record.automation
    yield f"- **Automation:** {verdict_words(auto.verdict)}: {md(auto.said)}"


def _links(record: IncidentRecord) -> Iterator[str]:
    yield "## Links"
    yield ""
    runbook = record.runbook_url
    raw = record.incident.headline.annotations.get("runbook_url", "")
    if runbook:
        yield f"- {_link('Runbook', runbook)}"
    elif raw:
        yield f"- Runbook: not linked, its runbook\\_url is not an http(s) URL: {code(raw)}"
    else:
        yield "- Runbook: the alert names none (no runbook\\_url annotation)"
    graph = record.graph_url
    if graph:
        yield f"- {_link('Prometheus graph of the alert’s expression over the incident', graph)}"
    else:
        yield "- Prometheus graph: none (the generatorURL is no http(s) URL with an expression)"


def _alerts(record: IncidentRecord) -> Iterator[str]:
    yield "## Alerts"
    yield ""
    for a in record.incident.alerts:
        ended = "still firing" if a.open else f"ended {utc(a.ended_at)}"
        labels = ", ".join(f"{md(k)}={md(v)}" for k, v in sorted(a.labels.items()))
        yield (f"- {md(a.alertname)} ({md(a.severity or 'none')}), alert {a.alert_id}: "
               f"fired {utc(a.received_at)}, {ended}; labels: {labels}")  # fmt: skip


def _timeline(record: IncidentRecord, unconfigured: Mapping[str, str]) -> Iterator[str]:
    yield "## Timeline"
    yield ""
    for e in record.timeline(unconfigured):
        yield f"- {utc(e.at)}, {e.kind}: {md(e.text)}"


def _verification(run: Mapping[str, Any]) -> Iterator[str]:
    if run.get("verify_query") is None and run.get("verify_subject") is None:
        return
    yield f"- Verification: {md(run.get('verify_subject') or 'the condition')}"
    if run.get("verify_query"):
        yield f"  - Query: {code(run['verify_query'])}"
    if run.get("verify_why"):
        yield f"  - How long: {md(run['verify_why'])}"
    checked = [s for s in run["steps"] if "verified" in str(s.get("detail") or "")]
    answer = checked[-1]["detail"] if checked else run.get("detail")
    if answer:
        yield f"  - Answer: {md(answer)}"


def _step(s: Mapping[str, Any]) -> Iterator[str]:
    said = f"{md(s['status'])}"
    if s.get("exit_status") is not None:
        said += f", exit {s['exit_status']}"
    if s.get("duration") is not None:
        said += f", {duration(s['duration'])}"
    yield f"#### Step {s['step']}: {md(s['action'])}, {said}"
    yield ""
    yield f"Began {utc(s.get('started_at'))}, ended {utc(s.get('finished_at'))}."
    if s.get("detail"):
        yield ""
        yield md(s["detail"])
    if s.get("output"):
        kept, what = tail(str(s["output"]))
        yield ""
        yield f"The {what}:"
        yield ""
        yield from block(kept)
    yield ""


def _run(run: Mapping[str, Any]) -> Iterator[str]:
    yield f"### Run {run['id']}: {md(run['playbook'])} on {md(run['target'])}"
    yield ""
    status = md(run["status"]) + (f" ({md(run['guardrail'])})" if run.get("guardrail") else "")
    yield f"- Outcome: {status}"
    yield (f"- Planned {utc(run.get('planned_at'))}, began {utc(run.get('started_at'))}, "
           f"ended {utc(run.get('finished_at'))}")  # fmt: skip
    if run.get("approval"):
        by = f" by {md(run['approval_by'])}" if run.get("approval_by") else ""
        why = f": {md(run['approval_reason'])}" if run.get("approval_reason") else ""
        yield f"- Approval: {md(run['approval'])}{by}{why}"
    if run.get("silence_note") or run.get("silence_id"):
        yield f"- Silence while it acted: {md(run.get('silence_note') or run['silence_id'])}"
    if run.get("detail"):
        yield f"- Why it ended so: {md(run['detail'])}"
    yield from _verification(run)
    yield ""
    for s in run["steps"]:
        yield from _step(s)


def _remediation(record: IncidentRecord) -> Iterator[str]:
    yield "## Remediation"
    yield ""
    every = record.all_runs
    if not every:
        yield "No remediation run was planned for this incident's alerts."
        yield ""
    for run in every:
        yield from _run(run)


def _follow_ups(notes: list[FollowUp]) -> Iterator[str]:
    yield "## Follow-ups"
    yield ""
    if not notes:
        yield "None yet."
    for n in notes:
        yield f"- {utc(n.added_at)}, {md(n.added_by)}: {md(n.note)}"


def write(record: IncidentRecord, unconfigured: Mapping[str, str] | None = None) -> str:
    """The whole report; `unconfigured` maps a channel to why it is not configured
    (a delivery skipped there reached nobody, and the timeline says so)."""
    parts = [
        *_head(record), "", *_links(record), "", *_alerts(record), "",
        *_timeline(record, unconfigured or {}), "", *_remediation(record),
        *_follow_ups(record.follow_ups),
    ]  # fmt: skip
    return "\n".join(parts).rstrip("\n") + "\n"
