"""The rule files: rendered from their one source of thresholds, valid for
promtool, passing their promtool unit tests, and labelled in the plan's words."""

from __future__ import annotations

import glob
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ruleset import (
    CATEGORIES,
    REPO,
    RULE_TESTS,
    RULES,
    SEVERITIES,
    alert_inputs,
    alert_names,
    alerts,
    rules,
)
from support.procs import find_binary

TEST_FILES = sorted(RULE_TESTS.glob("*_test.yml"))


def run(argv: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=100)


@pytest.mark.integration
def test_rendered_rule_files_match_their_templates() -> None:
    result = run([sys.executable, "rules/render.py", "--check"])
    assert result.returncode == 0, result.stderr


@pytest.mark.integration
def test_promtool_checks_every_rule_file() -> None:
    files = [str(p) for p in sorted(RULES.glob("*.yml"))]
    assert len(files) >= 5
    result = run([find_binary("PROMTOOL_BIN"), "check", "rules", *files])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(files)


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
@pytest.mark.integration
def test_promtool_unit_tests_pass(test_file: Path) -> None:
    result = run([find_binary("PROMTOOL_BIN"), "test", "rules", str(test_file)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_rule_glob_takes_rule_files_only() -> None:
    config = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["../rules/*.yml"]
    # Prometheus resolves the glob from the config file's folder.
    matched = sorted(
        Path(p).resolve() for p in glob.glob(str(REPO / "prometheus" / "../rules/*.yml"))
    )
    assert matched == sorted(RULES.glob("*.yml"))
    assert not any("tests" in p.parts or "src" in p.parts for p in matched)


@pytest.mark.integration
def test_promtool_checks_the_prometheus_config() -> None:
    result = run([find_binary("PROMTOOL_BIN"), "check", "config", "prometheus/prometheus.yml"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 rule files found" in result.stdout


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: f"{r.name}-{r.raw['labels']['severity']}")
def test_every_alert_speaks_the_plans_vocabulary(rule) -> None:
    labels, annotations = rule.raw["labels"], rule.raw["annotations"]
    assert labels["severity"] in SEVERITIES
    assert labels.get("category", "connection") in CATEGORIES
    assert "for" in rule.raw, "the integration test rewrites `for:`, so every alert has one"
    assert {"summary", "description", "runbook_url"} <= set(annotations)
    assert annotations["runbook_url"].endswith(f"/{rule.name}.md")


def test_rule_names_are_unique_per_severity_and_recordings_are_leveled() -> None:
    keys = [(r.name, r.raw.get("labels", {}).get("severity")) for r in rules()]
    assert len(keys) == len(set(keys))
    for rule in rules():
        if not rule.is_alert:
            assert rule.name.count(":") == 2, f"{rule.name} is not level:metric:operations"


def _alert_tests() -> list[dict]:
    cases = []
    for path in TEST_FILES:
        for test in yaml.safe_load(path.read_text())["tests"]:
            cases += test.get("alert_rule_test", [])
    return cases


def test_every_alert_is_tested_firing_and_quiet() -> None:
    cases = _alert_tests()
    fired = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    names = alert_names() - {"Watchdog"}  # always fires: it has no quiet case
    assert names - fired == set(), "alerts never shown firing"
    assert names - quiet == set(), "alerts never shown quiet"
    fired_severities = {
        (c["alertname"], a["exp_labels"]["severity"])
        for c in cases
        for a in c.get("exp_alerts", [])
    }
    for rule in alerts():
        assert (rule.name, rule.raw["labels"]["severity"]) in fired_severities


def _seconds(duration: str | int) -> int:
    """A promtool/Prometheus duration such as 1h30m, 5m, 0s or 0 in seconds."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", str(duration))
    assert parts, f"unexpected duration {duration!r}"
    hours, minutes, seconds = (int(p or 0) for p in parts.groups())
    return hours * 3600 + minutes * 60 + seconds


def _absent_cases(rule, metric: str) -> list[str]:
    """Test groups that evaluate `rule` once its `for` has passed, with no series of
    `metric` among their inputs."""
    found = []
    for path in TEST_FILES:
        document = yaml.safe_load(path.read_text())
        if rule.file not in {Path(f).name for f in document["rule_files"]}:
            continue
        for index, group in enumerate(document["tests"]):
            names = {s["series"].split("{")[0].strip() for s in group.get("input_series", [])}
            evaluated = any(
                case["alertname"] == rule.name
                and _seconds(case["eval_time"]) >= _seconds(rule.raw["for"])
                for case in group.get("alert_rule_test", [])
            )
            if evaluated and metric not in names:
                found.append(f"{path.name}#{index}")
    return found


READING_ALERTS = [rule for rule in alerts() if alert_inputs(rule)]


def test_absent_input_cases_cover_every_alert_that_reads_an_input() -> None:
    assert {r.name for r in READING_ALERTS} == alert_names() - {"Watchdog"}


@pytest.mark.parametrize(
    "rule", READING_ALERTS, ids=lambda r: f"{r.name}-{r.raw['labels']['severity']}"
)
def test_every_alert_is_tested_with_each_input_absent(rule) -> None:
    # What an alert does when an input it reads (directly or through a recording)
    # is gone, shown past its `for`: quiet, or firing where absence is the alarm.
    missing = sorted(m for m in alert_inputs(rule) if not _absent_cases(rule, m))
    assert missing == [], f"{rule.name}: no promtool case without {missing}"


# The renderer: the one place for thresholds refuses what it cannot honour.
def _load_render():
    sys.path.insert(0, str(RULES))
    try:
        import render
    finally:
        sys.path.remove(str(RULES))
    return render


def test_render_reports_unknown_and_unused_parameters(tmp_path: Path) -> None:
    render = _load_render()
    (tmp_path / "params.yml").write_text("used: 1\nunused: 2\n")
    (tmp_path / "a.yml").write_text("expr: x > ${used} and y > ${missing}\n")
    with pytest.raises(render.RenderError) as raised:
        render.render_all(tmp_path)
    assert str(raised.value).splitlines() == [
        "a.yml: ${missing}: not in params.yml",
        "params.yml: unused: not used by any rule",
    ]


def test_render_fills_parameters_and_leaves_prometheus_templates(tmp_path: Path) -> None:
    render = _load_render()
    (tmp_path / "params.yml").write_text("threshold: 0.9\n")
    (tmp_path / "a.yml").write_text(
        "expr: x > ${threshold}\nsummary: '{{ $value }} {{ $labels.a }}'\n"
    )
    out = render.render_all(tmp_path)["a.yml"]
    assert out.endswith("expr: x > 0.9\nsummary: '{{ $value }} {{ $labels.a }}'\n")
    target = tmp_path / "rendered"
    target.mkdir()
    assert render.stale({"a.yml": out}, target) == ["a.yml"]  # missing
    (target / "a.yml").write_text(out)
    (target / "orphan.yml").write_text("groups: []\n")
    assert render.stale({"a.yml": out}, target) == ["orphan.yml"]  # a rule file with no template


def test_render_takes_a_profiles_values_of_known_parameters_only(tmp_path: Path) -> None:
    render = _load_render()
    (tmp_path / "params.yml").write_text("threshold: 0.9\nwindow: 5m\n")
    (tmp_path / "a.yml").write_text("expr: x > ${threshold}\nfor: ${window}\n")
    out = render.render_all(tmp_path, overrides={"threshold": "0.5"})["a.yml"]
    assert out.endswith("expr: x > 0.5\nfor: 5m\n")
    with pytest.raises(render.RenderError) as raised:
        render.render_all(tmp_path, overrides={"thresold": "0.5"})
    assert str(raised.value) == "override thresold: not in params.yml"
