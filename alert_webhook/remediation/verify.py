"""Verification and preconditions: what Prometheus says before and after a run acts.

The outside world is one small `Prometheus` protocol (an instant query), passed
in: `HttpPrometheus` speaks the real query API over `requests`, tests pass
their own. Everything else here is plain logic over what it answered.

**Verification.** A step that reported success has not yet fixed anything: the
alert's own condition must be gone. The condition is the alert's expression —
Prometheus writes it into the alert's `generatorURL` (`…/graph?g0.expr=…`) — or
the playbook's `verify.query`. After the stabilisation `delay`, it must return
nothing for this alert through the whole `window`: one instant query of
`count_over_time((EXPR)[window:resolution]) or (EXPR)` answers that at once,
since the subquery returns a series for every series the expression returned at
any point of the window (and the `or`, what it returns right now). The
expression must be a vector expression, as an alerting rule's always is.
Only series of *this* alert count: a series whose labels all equal the
alert's (the alert carries the series' labels plus the rule's own), so `up ==
0` failing for another instance does not keep this one unverified. No label
value is ever written into a query.

**Precondition.** A playbook's `precondition.query` must return something
(`avg(up{job="pool"}) >= 0.8`) before it may act. The runner asks here and
hands the answer to the guardrails as a `Fact`; they stay pure.

Prometheus unreachable, or an answer that is not a result: never an exception
out of here. A verification says so and counts as not verified; a precondition
says so and does not hold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import requests

from alert_webhook.remediation.guardrails import Fact
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


class HttpPrometheus:
    """Prometheus's HTTP query API (`GET /api/v1/query`)."""

    def __init__(
        self, base_url: str, session: requests.Session | None = None, timeout: float = 5.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout

    def query(self, expr: str) -> list[Series]:
        url = f"{self.base_url}/api/v1/query"
        try:
            response = self.session.get(url, params={"query": expr}, timeout=self.timeout)
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
        return _series(body.get("data"))

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


def _series(data: Any) -> list[Series]:
    kind = data.get("resultType") if isinstance(data, dict) else None
    result = data.get("result") if isinstance(data, dict) else None
    if kind in ("vector", "matrix") and isinstance(result, list):
        return [dict(item.get("metric") or {}) for item in result if isinstance(item, dict)]
    if kind == "scalar":
        return [{}]
    raise PrometheusError(f"not a vector result: {_reason(kind)}")


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


@dataclass(frozen=True)
class Verdict:
    """What a verification found: `cleared` only when Prometheus answered, and
    nothing of the alert was left in the window."""

    cleared: bool
    detail: str


@dataclass(frozen=True)
class Checks:
    """The questions the runner asks Prometheus; None: no Prometheus to ask."""

    prometheus: Prometheus | None

    def verify(self, verify: Verify, generator_url: str, labels: Mapping[str, str]) -> Verdict:
        expr = verify.query or alert_expression(generator_url)
        if expr is None:
            return Verdict(
                False, "not verified: the alert's generatorURL has no expression "
                "(g0.expr) and the playbook gives no verify.query",
            )  # fmt: skip
        if self.prometheus is None:
            return Verdict(False, "not verified: no Prometheus to ask")
        try:
            left = of_alert(self.prometheus.query(window_query(expr, verify.window)), labels)
        except PrometheusError as exc:
            return Verdict(False, f"not verified: {exc}")
        span = f"{verify.window:g}s"
        if left:
            return Verdict(
                False, f"not verified: {expr} still returned {len(left)} series of this "
                f"alert within {span}",
            )  # fmt: skip
        return Verdict(True, f"verified: {expr} returned nothing of this alert for {span}")

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
