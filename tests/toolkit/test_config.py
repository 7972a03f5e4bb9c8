"""Configuration errors: every problem at once, each naming its source and key,
printed one per line and exit status 2."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from toolkit.config import (
    EXIT_CONFIG_ERROR,
    ConfigError,
    Duration,
    Regex,
    Strict,
    exit_on_config_error,
    format_location,
    load_yaml,
    parse_model,
    report_config_error,
)


class Check(Strict):
    name: str
    timeout: Duration = 5.0
    match: Regex = ".*"


class Checks(Strict):
    checks: list[Check]


def test_each_line_names_the_source() -> None:
    error = ConfigError("probes.yml", ["checks[0].name: required", "extra: unknown key"])
    assert error.lines == ["probes.yml: checks[0].name: required", "probes.yml: extra: unknown key"]
    assert str(error) == "\n".join(error.lines)


def test_every_problem_is_reported_at_once_with_its_key_path() -> None:
    data = {"checks": [{"name": "a", "timeout": "0s"}, {"timeout": "5m", "mtach": "x"}]}
    with pytest.raises(ConfigError) as caught:
        parse_model(Checks, data, "probes.yml")
    assert caught.value.problems == [
        "checks[0].timeout: must be a positive duration",
        "checks[1].name: required",
        "checks[1].mtach: unknown key",
    ]


def test_durations_take_units_and_regexes_are_compiled() -> None:
    parsed = parse_model(Checks, {"checks": [{"name": "a", "timeout": "500ms"}]}, "x")
    assert parsed.checks[0].timeout == 0.5
    assert parse_model(Check, {"name": "a", "timeout": "2h"}, "x").timeout == 7200.0
    for bad in (True, -1, "soon"):
        with pytest.raises(ConfigError, match="must be a positive duration"):
            parse_model(Check, {"name": "a", "timeout": bad}, "x")
    with pytest.raises(ConfigError, match="match: invalid regular expression"):
        parse_model(Check, {"name": "a", "match": "("}, "x")


def test_an_empty_document_is_an_empty_mapping() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_model(Checks, None, "empty.yml")
    assert caught.value.lines == ["empty.yml: checks: required"]


def test_union_tags_are_left_out_of_key_paths() -> None:
    def tag(part: int | str) -> bool:
        return part == "http"

    assert format_location(("checks", 2, "http", "timeout"), tag) == "checks[2].timeout"
    assert format_location(("checks", 2, "http", "timeout")) == "checks[2].http.timeout"


def test_a_missing_or_broken_file_is_one_problem_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "none.yml"
    with pytest.raises(ConfigError) as caught:
        load_yaml(missing)
    assert caught.value.lines == [f"{missing}: file not found"]
    broken = tmp_path / "broken.yml"
    broken.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError) as caught:
        load_yaml(broken)
    assert caught.value.lines[0].startswith(f"{broken}: line 2, column 1: invalid YAML: ")


def test_report_prints_each_line_after_the_program_and_returns_2() -> None:
    out = io.StringIO()
    error = ConfigError("webhook.yml", ["store.url: required", "bind: unknown key"])
    assert report_config_error(error, "alert_webhook", out) == EXIT_CONFIG_ERROR == 2
    assert out.getvalue().splitlines() == [
        "alert_webhook: webhook.yml: store.url: required",
        "alert_webhook: webhook.yml: bind: unknown key",
    ]


def test_exit_prints_the_lines_alone_to_stderr_and_exits_2(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        exit_on_config_error(ConfigError("probes.yml", ["checks: required"]))
    assert exited.value.code == 2
    assert capsys.readouterr().err == "probes.yml: checks: required\n"
