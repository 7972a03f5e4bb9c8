"""The contract between the shipped playbooks and the rules they act on, on both
profiles: every playbook's verification waits at least as long as what it
checks can lag behind a fix, so a fix that works is never judged on samples from
before it.

For each profile the rules, Prometheus's config, the probe file and the
playbooks are rendered as `make up` renders them (stack/render.py), and a
Prometheus stand-in answers from those files what the real one answers from
them at run time (its recording rules with their groups' intervals, its scrape
interval, the interval of the probes feeding a metric). Each playbook's alerts
are found from its matchers against the alerting rules (a matcher on a label a
rule sets only at run time, such as `service`, may hold). The bound each
verification must reach is computed here on its own, from the rule text: the
scrape interval, the probe interval for probe-fed series, and every range the
expression and the recording rules under it read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from ruleset import metrics_read, series_read

from alert_webhook.app.actions import registered_actions
from alert_webhook.delivery.routing import labels_match
from alert_webhook.remediation.lag import RecordingRule, parse_duration
from alert_webhook.remediation.playbooks import Playbook, load_playbooks
from alert_webhook.remediation.verify import Checks, Series
from exporters.probe import SAMPLE_HELP
from exporters.probe_config import load_probe_file
from stack import render
from stack.ports import SERVICES

PORTS = {s.name: s.default_port for s in SERVICES}
_RANGE = re.compile(r"\[([0-9a-z]+)(?::[^\]]*)?\]")


@dataclass(frozen=True)
class Profile:
    name: str
    alerts: list[dict[str, Any]]
    recordings: dict[str, RecordingRule]
    scrape: float
    probe_intervals: list[float]
    playbooks: list[Playbook]


def _profile(name: str, dest: Path) -> Profile:
    fast = name == "fast"
    if fast:
        files = render.render_rules(dest / "rules", "0s", params=render.FAST_RULE_PARAMS)
    else:
        files = [str(p) for p in sorted((render.REPO / "rules").glob("*.yml"))]
    prometheus = yaml.safe_load(
        render.render_prometheus(dest, PORTS, files, "1s" if fast else None).read_text()
    )
    evaluation = parse_duration(prometheus["global"]["evaluation_interval"])
    scrape = max(
        parse_duration(job.get("scrape_interval", prometheus["global"]["scrape_interval"]))
        for job in prometheus["scrape_configs"]
    )
    alerts, recordings = [], {}
    for path in files:
        for group in yaml.safe_load(Path(path).read_text())["groups"]:
            every = parse_duration(group["interval"]) if "interval" in group else evaluation
            for rule in group["rules"]:
                if "record" in rule:
                    recordings[rule["record"]] = RecordingRule(rule["record"], rule["expr"], every)
                else:
                    alerts.append(rule)
    probes = load_probe_file(render.render_probes(dest, PORTS, fast=fast), {})
    books = load_playbooks(render.render_playbooks(dest, fast=fast), registered_actions()).playbooks
    return Profile(name, alerts, recordings, scrape, [p.interval for p in probes], list(books))


def _probe_fed(metric: str) -> bool:
    """A metric the probe exporter publishes (exporters/probe.py)."""
    return metric.startswith("probe_") or metric in SAMPLE_HELP


class FilePrometheus:
    """Prometheus as the rendered files make it: what `Checks.lag` asks."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    def query(self, expr: str) -> list[Series]:
        return []  # every probe publishes its interval: no fallback asked

    def values(self, expr: str) -> list[float]:
        names = re.search(r'__name__=~"([^"]*)"', expr)
        fed = names is not None and any(_probe_fed(n) for n in names.group(1).split("|"))
        return [max(self.profile.probe_intervals)] if fed else []

    def recordings(self) -> list[RecordingRule]:
        return list(self.profile.recordings.values())

    def scrape_interval(self) -> float:
        return self.profile.scrape


def _alerts_of(book: Playbook, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The alerting rules whose alerts the playbook may match: its matchers on
    the labels a rule sets (its name, its static labels) hold, and those on
    labels only the series carry may."""
    found = []
    for rule in alerts:
        static = {"alertname": rule["alert"], **rule.get("labels", {})}
        match = {k: v for k, v in book.match.items() if k in static}
        match_re = {k: v for k, v in book.match_re.items() if k in static}
        if labels_match(match, match_re, static):
            found.append(rule)
    return found


def _bound(expr: str, profile: Profile) -> float:
    """How long `expr` can lag, reckoned apart from lag.py: the scrape, a probe
    for probe-fed series, and every range along the recording rules it reads."""
    seen, todo, inputs, windows, evaluations = set(), [expr], set(), [], []
    while todo:
        text = todo.pop()
        windows.append(max((parse_duration(d) for d in _RANGE.findall(text)), default=0.0))
        inputs |= metrics_read(text)
        for name in series_read(text) - seen:
            if name in profile.recordings:
                seen.add(name)
                todo.append(profile.recordings[name].query)
                evaluations.append(profile.recordings[name].interval)
    if not inputs:
        return 0.0  # `vector(1)` reads nothing, so nothing of it can be stale
    probe = max(profile.probe_intervals) if any(_probe_fed(m) for m in inputs) else 0.0
    # The longest single range and one evaluation at least: what every path has.
    return profile.scrape + probe + max(windows) + (min(evaluations) if evaluations else 0.0)


@pytest.fixture(scope="module", params=["default", "fast"])
def profile(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Profile:
    return _profile(request.param, tmp_path_factory.mktemp(request.param))


def test_every_playbook_that_acts_matches_an_alert_of_the_rules(profile: Profile) -> None:
    acting = [b for b in profile.playbooks if b.actions]
    unmatched = [b.name for b in acting if not _alerts_of(b, profile.alerts)]
    assert unmatched == [], f"{profile.name}: playbooks that no rule's alert can match"


def test_every_verification_waits_at_least_as_long_as_its_alert_can_lag(
    profile: Profile,
) -> None:
    checks = Checks(FilePrometheus(profile))
    short = []
    for book in (b for b in profile.playbooks if b.actions):
        for rule in _alerts_of(book, profile.alerts):
            url = "http://prometheus/graph?" + _encoded(rule["expr"])
            check = checks.begin(book.verify, url, rule["alert"], since=0.0)
            assert check.query is not None
            assert "could not tell" not in check.why, check.why
            waits = check.until - check.window  # how long the condition may take to clear
            need = _bound(check.query, profile)
            if waits < need:
                short.append(f"{book.name} on {rule['alert']}: waits {waits:g}s < {need:g}s")
    assert short == [], f"{profile.name} profile"


def test_the_default_profiles_demo_outage_waits_for_a_probe_and_a_scrape(tmp_path: Path) -> None:
    """The case that failed on the default profile: restart-demo on
    ServiceUnavailable judged 10 s after the restart, against a probe that runs
    once a minute."""
    profile = _profile("default", tmp_path)
    book = next(b for b in profile.playbooks if b.name == "restart-demo")
    rule = next(r for r in profile.alerts if r["alert"] == "ServiceUnavailable")
    check = Checks(FilePrometheus(profile)).begin(
        book.verify, "http://p/graph?" + _encoded(rule["expr"]), "ServiceUnavailable", 0.0
    )
    assert check.why == "waited up to 1m 45s: 1m probe interval + 15s scrape interval + 30s clear"


def _encoded(expr: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"g0.expr": expr})
