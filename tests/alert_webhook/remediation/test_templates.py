"""templates.py: placeholders, the checks every label value passes, refusals."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alert_webhook.remediation.actions.base import SAFE_WORD
from alert_webhook.remediation.templates import (
    Refused,
    Rule,
    labels_used,
    render,
    sample,
    syntax_problems,
)

SAFE = [Rule(pattern=SAFE_WORD)]


def test_label_values_are_substituted_into_nested_params() -> None:
    params = {
        "argv": ["/usr/bin/restart", "{labels.service}", "--on={labels.instance}"],
        "mode": "fast",
    }
    rendered = render(
        params,
        {"argv": SAFE},
        {"service": "demo", "instance": "127.0.0.1:8081", "job": "x"},
    )
    assert rendered == {
        "argv": ["/usr/bin/restart", "demo", "--on=127.0.0.1:8081"],
        "mode": "fast",
    }


def test_only_whole_placeholders_are_special_other_braces_stay_literal() -> None:
    assert render({"url": '{"a": 1} {labels.x}'}, {"url": SAFE}, {"x": "y"}) == {
        "url": '{"a": 1} y'
    }
    assert labels_used({"a": ["{labels.one}", {"b": "{labels.two}{labels.one}"}]}) == [
        "one",
        "two",
    ]


@pytest.mark.parametrize("text", ["{labels.}", "{labels.instance", "{ labels.x}", "{labels.a-b}"])
def test_malformed_placeholders_are_reported(text: str) -> None:
    assert syntax_problems({"p": ["ok", text]}) == [
        f"{text!r}: a placeholder is written {{labels.NAME}}"
    ]


def test_a_well_formed_template_has_no_syntax_problems() -> None:
    assert syntax_problems({"url": "http://{labels.host}/x?{a}", "n": 3}) == []


@pytest.mark.parametrize(
    "value",
    [
        "db1;rm -rf /",
        "$(reboot)",
        "`id`",
        "../../etc/passwd",
        "a/b",
        "line\nbreak",
        "trailing\n",
        "nul\x00byte",
        "-rf",
        "--exec=sh",
        "a b",
        "x?y=1",
        "user@host",
        "%2e%2e",
        "",
    ],
)
def test_hostile_label_values_are_refused_with_the_reason(value: str) -> None:
    with pytest.raises(Refused) as refused:
        render({"argv": ["/bin/true", "{labels.instance}"]}, {"argv": SAFE}, {"instance": value})
    assert refused.value.reasons == [
        f"label instance={value!r} does not match {SAFE_WORD} (needed by argv)"
    ]


def test_the_refusal_reads_as_the_operator_needs_it() -> None:
    with pytest.raises(Refused) as refused:
        render({"url": "{labels.instance}"}, {"url": SAFE}, {"instance": "db1;rm -rf /"})
    assert str(refused.value).startswith("label instance='db1;rm -rf /' does not match ^")


def test_a_long_value_is_shown_cut() -> None:
    with pytest.raises(Refused) as refused:
        render({"u": "{labels.x}"}, {"u": SAFE}, {"x": ";" * 500})
    assert ";" * 80 + "…" in refused.value.reasons[0]
    assert ";" * 81 not in refused.value.reasons[0]


def test_every_rule_of_a_param_must_hold_narrowing_the_safe_alphabet() -> None:
    rules = {"argv": [*SAFE, Rule(enum=("demo", "worker"))]}
    assert render({"argv": ["{labels.service}"]}, rules, {"service": "worker"}) == {
        "argv": ["worker"]
    }
    with pytest.raises(Refused) as refused:
        render({"argv": ["{labels.service}"]}, rules, {"service": "db"})
    assert refused.value.reasons == [
        "label service='db' is not one of demo, worker (needed by argv)"
    ]
    # An enum never widens the safe alphabet: a listed hostile value still fails it.
    wide = {"argv": [*SAFE, Rule(enum=("a;b",))]}
    with pytest.raises(Refused):
        render({"argv": ["{labels.service}"]}, wide, {"service": "a;b"})


def test_a_playbook_pattern_applies_on_top() -> None:
    rules = {"url": [*SAFE, Rule(pattern=r"^127\.0\.0\.1:[0-9]{1,5}$")]}
    assert render({"url": "http://{labels.i}/"}, rules, {"i": "127.0.0.1:8081"}) == {
        "url": "http://127.0.0.1:8081/"
    }
    with pytest.raises(Refused, match="does not match"):
        render({"url": "http://{labels.i}/"}, rules, {"i": "10.0.0.1:80"})


def test_a_missing_label_refuses_and_every_problem_is_listed() -> None:
    with pytest.raises(Refused) as refused:
        render(
            {"argv": ["{labels.a}", "{labels.b}", "{labels.c}"]},
            {"argv": SAFE},
            {"b": "x;y", "c": "fine"},
        )
    assert refused.value.reasons == [
        "label a is missing (needed by argv)",
        f"label b='x;y' does not match {SAFE_WORD} (needed by argv)",
    ]


def test_a_param_without_rules_takes_no_labels_even_safe_ones() -> None:
    with pytest.raises(Refused) as refused:
        render({"method": "{labels.m}"}, {}, {"m": "GET"})
    assert refused.value.reasons == ["parameter method takes no labels"]
    # Without placeholders, a param needs no rules.
    assert render({"method": "GET"}, {}, {}) == {"method": "GET"}


def test_sample_fills_every_placeholder_with_a_harmless_word() -> None:
    assert sample({"url": "http://{labels.host}:{labels.port}/", "n": [1, "{labels.z}"]}) == {
        "url": "http://x:x/",
        "n": [1, "x"],
    }


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_any_value_either_is_refused_or_arrives_verbatim_and_inert(value: str) -> None:
    try:
        rendered = render({"argv": ["/bin/echo", "{labels.v}"]}, {"argv": SAFE}, {"v": value})
    except Refused as refused:
        assert refused.reasons[0].startswith("label v=")
        return
    assert rendered["argv"] == ["/bin/echo", value]
    assert value[0].isascii() and value[0].isalnum()
    assert not set(value) & set(" \t\r\n\x00;|&$`'\"()<>*?[]{}\\/#%@!~")
