"""Verification and preconditions: what Prometheus says before and after a run acts.

The outside world is one small `Prometheus` protocol (an instant query, the
recording rules it runs, its scrape interval), passed in: `HttpPrometheus`
speaks the real HTTP API over `requests`, tests pass their own. Everything else
here is plain logic over what it answered.

**Verification.** A step that reported success has not yet fixed anything: the
alert's own condition must be gone. The condition is the alert's expression —
Prometheus writes it into the alert's `generatorURL` (`…/graph?g0.expr=…`) — or
the playbook's `verify.query`. It must return nothing for this alert through a
whole `window`: one instant query of `count_over_time((EXPR)[window:resolution])
or (EXPR)` answers that at once, since the subquery returns a series for every
series the expression returned at any point of the window (and the `or`, what
it returns right now). The expression must be a vector expression, as an
alerting rule's always is. Only series of *this* alert count: a series whose
labels all equal the alert's (the alert carries the series' labels plus the
rule's own), so `up == 0` failing for another instance does not keep this one
unverified. No label value is ever written into a query.

**When.** Prometheus learns of a fix late, and the expression goes on reading
what it learnt before (`lag.py`): a minute's probe, a scrape, a 5-minute rate.
So when a step works, `timing` asks Prometheus for what that lag is made of —
the recording rules the expression reads (`/api/v1/rules`), the scrape interval
(`/api/v1/status/config`), the interval of the probes that feed its series (the
probe exporter's `probe_interval_seconds`) — and the run is checked from
`delay + window` after the step, again and again, until the condition has
returned nothing for the window (verified) or until the lag (or the playbook's
longer `verify.deadline`) plus the window has passed without that (not
verified). Prometheus unable to say: the lag is taken as `DEFAULT_LAG`, and
the record says so.

**Precondition.** A playbook's `precondition.query` must return something
(`avg(up{job="pool"}) >= 0.8`) before it may act. The runner asks here and
hands the answer to the guardrails as a `Fact`; they stay pure.

Prometheus unreachable, or an answer that is not a result: never an exception
out of here. A verification says so and counts as not verified once its
deadline has passed; a precondition says so and does not hold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import requests
import yaml

from alert_webhook.remediation.guardrails import Fact
from alert_webhook.remediation.lag import (
    Lag,
    RecordingRule,
    Sources,
    lag,
    parse_duration,
    raw_metrics,
    say,
)
from alert_webhook.remediation.playbooks import Playbook, Precondition, Verify
from alert_webhook.text import one_line

Series = dict[str, str]
# How much of Prometheus's error text is kept in a run's detail.
_REASON_CHARS = 300
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")


class PrometheusError(Exception):
    """Prometheus could not answer: unreachable, refused the query, or said nonsense."""


class Prometheus(Protocol):
    def query(self, expr: str) -> list[Series]:
        """The labels of each series an instant query returns now (a scalar result
        is one series without labels); `PrometheusError` when there is no answer."""
        ...

    def values(self, expr: str) -> list[float]:
        """The value of each series an instant query returns now."""
        ...

    def recordings(self) -> list[RecordingRule]:
        """Every recording rule Prometheus runs, with its group's interval."""
        ...

    def scrape_interval(self) -> float:
        """The longest scrape interval of Prometheus's scrape configs, in seconds."""
        ...


class HttpPrometheus:
    """Prometheus's HTTP query API (`GET /api/v1/query`)."""

    def __init__(
        self, base_url: str, session: requests.Session | None = None, timeout: float = 5.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout

    def query(self, expr: str) -> list[Series]:
        return [labels for labels, _ in _samples(self._get("query", {"query": expr}))]

    def values(self, expr: str) -> list[float]:
        return [value for _, value in _samples(self._get("query", {"query": expr}))]

    def recordings(self) -> list[RecordingRule]:
        data = self._get("rules", {"type": "record"})
        groups = data.get("groups") if isinstance(data, dict) else None
        if not isinstance(groups, list):
            raise PrometheusError(f"Prometheus at {self.base_url}: not a list of rule groups")
        try:
            return [
                RecordingRule(str(rule["name"]), str(rule["query"]), float(group["interval"]))
                for group in groups
                for rule in group.get("rules", [])
                if rule.get("type") == "recording"
            ]
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise PrometheusError(
                f"Prometheus at {self.base_url}: odd rule: {_reason(exc)}"
            ) from None

    def scrape_interval(self) -> float:
        data = self._get("status/config", {})
        try:
            config = yaml.safe_load(data["yaml"])
            default = config.get("global", {}).get("scrape_interval", "1m")
            jobs = config.get("scrape_configs") or []
            return max(parse_duration(str(j.get("scrape_interval", default))) for j in [{}, *jobs])
        except (AttributeError, KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
            raise PrometheusError(
                f"Prometheus at {self.base_url}: no scrape interval in its config: {_reason(exc)}"
            ) from None

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        url = f"{self.base_url}/api/v1/{path}"
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise PrometheusError(f"Prometheus at {self.base_url}: {self._failure(exc)}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else None
            raise PrometheusError(
                f"Prometheus at {self.base_url} answered {response.status_code}: "
                f"{_reason(error or 'not a query result')}"
            )
        return body.get("data")

    def _failure(self, exc: requests.RequestException) -> str:
        """Why no answer came, in words: requests' own text buries the cause."""
        if isinstance(exc, requests.Timeout):
            return f"no answer within {self.timeout:g}s"
        errno = _ERRNO.search(str(exc))
        if isinstance(exc, requests.ConnectionError):
            return f"unreachable: {errno.group(0) if errno else _reason(exc)}"
        return _reason(exc)


def _reason(error: object) -> str:
    return one_line(str(error))[:_REASON_CHARS]


def _samples(data: Any) -> list[tuple[Series, float]]:
    """Each series' labels and value (a matrix's series: its last value)."""
    kind = data.get("resultType") if isinstance(data, dict) else None
    result = data.get("result") if isinstance(data, dict) else None
    if kind in ("vector", "matrix") and isinstance(result, list):
        items = [item for item in result if isinstance(item, dict)]
        return [(dict(item.get("metric") or {}), _value(item)) for item in items]
    if kind == "scalar":
        return [({}, _number(result))]
    raise PrometheusError(f"not a vector result: {_reason(kind)}")


def _value(item: Mapping[str, Any]) -> float:
    if "value" in item:
        return _number(item["value"])
    values = item.get("values")
    return _number(values[-1]) if isinstance(values, list) and values else float("nan")


def _number(pair: Any) -> float:
    """A `[time, "value"]` pair's value; NaN when it is not one."""
    try:
        return float(pair[1])
    except (IndexError, KeyError, TypeError, ValueError):
        return float("nan")


def alert_expression(generator_url: str) -> str | None:
    """The expression Prometheus put into an alert's generatorURL (`g0.expr`)."""
    values = parse_qs(urlsplit(generator_url).query).get("g0.expr")
    return values[0] if values and values[0].strip() else None


def of_alert(series: list[Series], labels: Mapping[str, str]) -> list[Series]:
    """The series that belong to this alert: every label of theirs (but the metric
    name) equals the alert's."""
    return [
        s for s in series
        if all(labels.get(k) == v for k, v in s.items() if k != "__name__")
    ]  # fmt: skip


def _promql_duration(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def window_query(expr: str, window: float) -> str:
    """The instant query that is empty only when `expr` returned nothing in the last
    `window` seconds: the subquery samples it every second (or in 300 steps over a
    longer window) at times aligned to that step, so `or` the expression itself
    adds what it returns at this very moment."""
    resolution = max(1.0, window / 300)
    span = f"{_promql_duration(window)}:{_promql_duration(resolution)}"
    return f"count_over_time(({expr})[{span}]) or ({expr})"


# The lag assumed when Prometheus cannot tell it: longer than any shipped alert's
# on the default profile (ApiResponseTimeHigh's is 5m 45s: a 5-minute rate over
# two recording rules), so a fix that works is not called ineffective for it.
DEFAULT_LAG = 600.0
# A probe-fed series whose probes publish no interval: the recovery plan's
# "Service Availability: Check every minute".
DEFAULT_PROBE_INTERVAL = 60.0
PROBE_INTERVAL_METRIC = "probe_interval_seconds"


def poll_interval(window: float) -> float:
    """How often a verifying run is checked again: a third of its window, between
    a second and the default profile's scrape interval."""
    return min(15.0, max(1.0, window / 3))


@dataclass(frozen=True)
class Verification:
    """What is checked after a step worked, from when, until when, and why that
    long; stored with the run, so any replica's runner checks it alike."""

    query: str | None  # None: no expression to ask, so nothing can be verified
    subject: str  # the condition in words: "ServiceUnavailable's condition"
    window: float
    since: float  # when the step worked
    until: float  # past this, a condition still there is not verified
    why: str  # "waited up to 1m 45s: 1m probe interval + 15s scrape interval + 30s clear"


@dataclass(frozen=True)
class Verdict:
    """What one check found: `cleared` only when Prometheus answered, and nothing
    of the alert was left in the window; `final` when this is the end of the
    verification (cleared, or its deadline passed), else it is checked again."""

    cleared: bool
    detail: str
    final: bool = True


def subject(verify: Verify, alertname: str) -> str:
    return "the playbook's verify query" if verify.query else f"{alertname}'s condition"


@dataclass(frozen=True)
class Checks:
    """The questions the runner asks Prometheus; None: no Prometheus to ask."""

    prometheus: Prometheus | None

    def expression(self, verify: Verify, generator_url: str) -> str | None:
        return verify.query or alert_expression(generator_url)

    def lag(self, expr: str) -> Lag:
        """How long `expr` may answer with samples from before a fix, from what
        Prometheus says of its rules, scrapes and probes; PrometheusError when
        it cannot say."""
        if self.prometheus is None:
            raise PrometheusError("no Prometheus to ask")
        recordings = {r.name: r for r in self.prometheus.recordings()}
        sources = Sources(self.prometheus.scrape_interval(), self._probe_interval(
            raw_metrics(expr, recordings)
        ))  # fmt: skip
        return lag(expr, recordings, sources)

    def _probe_interval(self, metrics: set[str]) -> float:
        """The longest interval of the probes whose series are among `metrics`
        (joined on the `probe` label every probe series has); 0 when none is
        probe-fed. Metric names come from rule text, never from a label value."""
        if not metrics or self.prometheus is None:
            return 0.0
        names = "|".join(sorted(metrics))
        found = self.prometheus.values(
            f'max({PROBE_INTERVAL_METRIC} and on (probe) {{__name__=~"{names}"}})'
        )
        if found and found[0] == found[0]:  # not NaN
            return found[0]
        probed = self.prometheus.query(f'count({{__name__=~"{names}", probe!=""}})')
        return DEFAULT_PROBE_INTERVAL if probed else 0.0

    def begin(
        self, verify: Verify, generator_url: str, alertname: str, since: float
    ) -> Verification:
        """The verification of a step that worked at `since`."""
        expr = self.expression(verify, generator_url)
        about = subject(verify, alertname)
        window = verify.window
        if expr is None:
            return Verification(None, about, window, since, since, "nothing to ask")
        try:
            found = self.lag(expr)
            lagged, basis = found.seconds, found.words()
        except PrometheusError as exc:
            lagged = DEFAULT_LAG
            basis = f"the default {say(DEFAULT_LAG)}, as Prometheus could not tell the lag ({exc})"
        limit, reason = lagged, basis
        for key, value in (("deadline", verify.deadline or 0.0), ("delay", verify.delay)):
            if value > limit:
                limit, reason = value, f"the playbook's verify.{key} {say(value)} (lag: {basis})"
        why = f"waited up to {say(limit + window)}: {reason} + {say(window)} clear"
        return Verification(expr, about, window, since, since + limit + window, why)

    def verify(self, check: Verification, labels: Mapping[str, str], now: float) -> Verdict:
        """One check at `now`; not final while the condition may still clear."""
        if check.query is None:
            return Verdict(
                False, "not verified: the alert's generatorURL has no expression "
                "(g0.expr) and the playbook gives no verify.query",
            )  # fmt: skip
        if self.prometheus is None:
            return Verdict(False, "not verified: no Prometheus to ask")
        after = say(now - check.since)
        over = now >= check.until
        try:
            left = of_alert(self.prometheus.query(window_query(check.query, check.window)), labels)
        except PrometheusError as exc:
            return Verdict(False, f"not verified: {exc} ({check.why})", final=over)
        if left:
            return Verdict(
                False, f"not verified: {check.subject} still returned {len(left)} series of "
                f"this alert after {after} ({check.why})", final=over,
            )  # fmt: skip
        return Verdict(
            True, f"verified after {after}: {check.subject} returned nothing of this alert "
            f"for {say(check.window)} ({check.why})",
        )  # fmt: skip

    def precondition(self, book: Playbook) -> Fact | None:
        """The playbook's precondition judged now; None when it has none."""
        pre: Precondition | None = book.precondition
        if pre is None:
            return None
        if self.prometheus is None:
            return Fact(False, f"{pre.query}: no Prometheus to ask")
        try:
            found = self.prometheus.query(pre.query)
        except PrometheusError as exc:
            return Fact(False, f"{pre.query}: {exc}")
        if not found:
            return Fact(False, f"{pre.query} returned nothing")
        return Fact(True, f"{pre.query} returned {len(found)} series")
