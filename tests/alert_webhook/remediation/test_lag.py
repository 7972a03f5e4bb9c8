"""remediation/lag.py: how long an expression can answer with samples from before
a fix, from rule text and intervals alone (no Prometheus)."""

from __future__ import annotations

import pytest

from alert_webhook.remediation.lag import (
    Lag,
    RecordingRule,
    Sources,
    lag,
    parse_duration,
    raw_metrics,
    say,
    selectors,
)

DEFAULT = Sources(scrape_interval=15)
PROBED = Sources(scrape_interval=15, probe_interval=60)
# ApiResponseTimeHigh's chain on the shipped rules: a quantile over a 5m rate.
LATENCY = {
    r.name: r
    for r in (
        RecordingRule("job_handler:quantile_rate5m",
                  'label_replace(histogram_quantile(0.95, job_handler:bucket:rate5m), "quantile", '
                  '"0.95", "", "")', 15),
        RecordingRule("job_handler:bucket:rate5m",
                  'sum by (job, handler, le) (rate(http_request_duration_seconds_bucket'
                  '{job=~"demo|webhook"}[5m]))', 15),
        RecordingRule("job_handler:rate5m",
                  "sum by (job, handler) (rate(http_request_duration_seconds_count[5m]))", 15),
    )
}  # fmt: skip


def test_durations_as_prometheus_writes_them_and_as_people_read_them() -> None:
    assert [parse_duration(d) for d in ("15s", "1m30s", "500ms", "2h", "1w")] == [
        15, 90, 0.5, 7200, 604800,
    ]  # fmt: skip
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        parse_duration("15 seconds")
    assert [say(s) for s in (0, 30, 60, 75, 105, 3600, 3725)] == [
        "0s", "30s", "1m", "1m 15s", "1m 45s", "1h", "1h 2m 5s",
    ]  # fmt: skip


def test_each_name_read_counts_with_the_range_and_offset_written_after_it() -> None:
    expr = (
        'sum by (job) (rate(errors{code=~"5.."}[5m] offset 1m)) / on (job) group_left (zone) '
        'requests and label_replace(up, "x", "$1", "job", "(.*)") > 1e6'
    )
    assert selectors(expr) == {"errors": 360, "requests": 0, "up": 0}
    # A subquery reaches back its whole range for every name inside.
    assert selectors("max_over_time((rate(x[1m]) > 1)[30m:1m])") == {"x": 1860}
    assert selectors("vector(1)") == {}


def test_a_probe_fed_series_lags_by_its_probe_and_its_scrape() -> None:
    found = lag('probe_success{kind=~"http|service"} == 0', {}, PROBED)
    assert found == Lag((("probe interval", 60), ("scrape interval", 15)))
    assert found.seconds == 75
    assert found.words() == "1m probe interval + 15s scrape interval"


def test_recording_rules_are_followed_and_the_worst_path_is_taken() -> None:
    expr = "job_handler:quantile_rate5m > 5 and on (job, handler) job_handler:rate5m >= 0.05"
    found = lag(expr, LATENCY, DEFAULT)
    assert found.words() == "5m range + 30s rule evaluation + 15s scrape interval"
    assert found.seconds == 345
    assert raw_metrics(expr, LATENCY) == {
        "http_request_duration_seconds_bucket", "http_request_duration_seconds_count",
    }  # fmt: skip


def test_ranges_on_one_path_add_up_and_a_loop_of_rules_ends() -> None:
    nested = {"a:rate1m": RecordingRule("a:rate1m", "rate(a[1m])", 30)}
    assert lag("max_over_time(a:rate1m[10m])", nested, DEFAULT).seconds == 600 + 30 + 60 + 15
    loop = {
        "x:one": RecordingRule("x:one", "x:two + 1", 15),
        "x:two": RecordingRule("x:two", "x:one + 1", 15),
    }
    assert lag("x:one > 0", loop, DEFAULT).seconds > 0  # ends, however long it says
    assert lag("vector(1)", {}, DEFAULT) == Lag(())
    assert Lag(()).words() == "no lag"
