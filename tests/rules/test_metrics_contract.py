"""docs/metrics.md lists every metric the webhook exports, with its type and labels.

The webhook is built as it runs (`create_app`, which adds the request metrics of
`exporters.instrumentation` to `create_metrics()`'s registry), and every family in
its registry must have a row: the webhook's own in the webhook's table, the
request metrics in the Applications table. Rows of the webhook's table must be
exported, but for metrics a later issue adds (PENDING).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from ruleset import REPO

CONTRACT = REPO / "docs" / "metrics.md"
WEBHOOK_SECTION = "## The webhook"
APP_SECTION = "## Applications"
# Documented, read by a rule, not exported yet (none now).
PENDING: set[str] = set()

Row = tuple[str, frozenset[str]]  # type, label names
_BACKTICKED = re.compile(r"`([A-Za-z_:][A-Za-z0-9_:]*)`")
_PARENTHESES = re.compile(r"\([^()]*\)")


def documented(section: str, text: str | None = None) -> dict[str, Row]:
    """metric name → (type, labels) from the table under the heading `section`."""
    text = CONTRACT.read_text() if text is None else text
    start = text.index(section)
    end = text.find("\n## ", start + 1)
    rows: dict[str, Row] = {}
    for line in text[start : end if end >= 0 else None].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("| `") or len(cells) < 3:
            continue
        kind = cells[1].split()[0]
        labels = frozenset(_BACKTICKED.findall(_PARENTHESES.sub(" ", cells[2])))
        for name in _BACKTICKED.findall(cells[0]):
            rows[name] = (kind, labels)
    return rows


def exported(registry: CollectorRegistry) -> dict[str, Row]:
    """metric name as scraped (counters with `_total`) → (type, labels), for every
    collector in the registry, labelled ones included before they have a child."""
    rows: dict[str, Row] = {}
    for collector in list(registry._collector_to_names):  # no public way to list them
        if not hasattr(collector, "_type"):  # a custom collector: the families it declares
            for family in collector.describe():
                name = family.name + ("_total" if family.type == "counter" else "")
                rows[name] = (family.type, frozenset(getattr(family, "_labelnames", ())))
            continue
        kind = getattr(collector, "_type", None)
        assert kind in ("counter", "gauge", "histogram", "summary"), collector
        name = collector._name + ("_total" if kind == "counter" else "")
        rows[name] = (kind, frozenset(collector._labelnames))
    return rows


@pytest.fixture(scope="module")
def webhook_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorRegistry]:
    from alert_webhook import create_app
    from alert_webhook.config.settings import settings_from_mapping
    from alert_webhook.metrics.registry import create_metrics
    from alert_webhook.store import open_store

    path: Path = tmp_path_factory.mktemp("webhook") / "webhook.sqlite3"
    store = open_store(f"sqlite:///{path}")
    store.create_schema()
    metrics = create_metrics(CollectorRegistry())
    app = create_app(settings_from_mapping({}, {}), store=store, metrics=metrics)
    # What is built is what is served.
    assert app.test_client().get("/metrics").status_code == 200
    yield metrics.registry
    store.dispose()


def test_every_metric_the_webhook_exports_is_documented(webhook_registry) -> None:
    families = exported(webhook_registry)
    own = {n: row for n, row in families.items() if n.startswith("alert_webhook_")}
    requests = {n: row for n, row in families.items() if n not in own}
    assert len(own) >= 10 and "http_requests_in_flight" in requests
    docs = documented(WEBHOOK_SECTION)
    assert {n: docs.get(n) for n in own} == own, "docs/metrics.md's webhook table differs"
    apps = documented(APP_SECTION)
    assert {n: apps.get(n) for n in requests} == requests, "docs/metrics.md's app table differs"


def test_every_webhook_row_is_exported(webhook_registry) -> None:
    rows = set(documented(WEBHOOK_SECTION))
    assert rows - set(exported(webhook_registry)) == PENDING, (
        "documented but not exported (or exported now: take it out of PENDING)"
    )


def test_the_table_reader() -> None:
    text = (
        "## The webhook\n\n| metric | type | labels |\n| --- | --- | --- |\n"
        '| `a_total`, `b_total` | counter | `x`, `y` (`v1`, `v2`); reads `y="v1"` |\n'
        "| `c` | gauge (0 or 1) | |\n\n## Next\n\n| `d` | gauge | `z` |\n"
    )
    assert documented("## The webhook", text) == {
        "a_total": ("counter", frozenset({"x", "y"})),
        "b_total": ("counter", frozenset({"x", "y"})),
        "c": ("gauge", frozenset()),
    }
