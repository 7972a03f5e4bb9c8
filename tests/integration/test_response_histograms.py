"""Time to acknowledge and to resolve, scraped by a real Prometheus from two
webhook replicas on one PostgreSQL store: both receive every notification (as
from an Alertmanager pair), one takes the acknowledgement, and each replica's
histogram counts the incident once — the same series on both, so `max` over
replicas is the store's count, and `histogram_quantile` reads the median from
the buckets. Free ports; every process stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import yaml
from support import postgres
from support.procs import find_binary, free_port, python_module, running, wait_until

from stack.ports import HOST
from stack.up import TOKEN_ENV

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(postgres.unavailable()), reason=str(postgres.unavailable())),
]
TOKEN = "test-token-for-histograms"
DATABASE_URL_ENV = "ALERT_WEBHOOK_DATABASE_URL"
REPLICAS = ("a", "b")
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TTA, TTR = "alert_webhook_time_to_acknowledge_seconds", "alert_webhook_time_to_resolve_seconds"


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, int], int]]:
    """The two replicas' ports and Prometheus's, scraping both every second."""
    base = tmp_path_factory.mktemp("histograms")
    ports = {name: free_port() for name in REPLICAS}
    prometheus_port = free_port()
    with ExitStack() as stack:
        database_url = stack.enter_context(postgres.server())
        for name, port in ports.items():
            folder = base / f"webhook-{name}"
            folder.mkdir()
            config = folder / "webhook.yml"
            # Alertmanager's API is the discard port: nothing answers there.
            config.write_text(yaml.safe_dump({"links": {"alertmanager_url": "http://127.0.0.1:9"}}))
            stack.enter_context(
                running(
                    f"webhook-{name}",
                    python_module("alert_webhook", f"--config={config}", f"--bind={HOST}:{port}"),
                    base,
                    ready_url=f"http://{HOST}:{port}/readyz",
                    env={TOKEN_ENV: TOKEN, DATABASE_URL_ENV: database_url},
                    cwd=folder,
                )
            )
        targets = [f"{HOST}:{p}" for p in ports.values()]
        scrape = {"job_name": "webhook", "scrape_interval": "1s",
                  "static_configs": [{"targets": targets}]}  # fmt: skip
        prometheus_yml = base / "prometheus.yml"
        prometheus_yml.write_text(yaml.safe_dump({"scrape_configs": [scrape]}))
        argv = [
            find_binary("PROMETHEUS_BIN"), f"--config.file={prometheus_yml}",
            f"--storage.tsdb.path={base / 'tsdb'}",
            f"--web.listen-address={HOST}:{prometheus_port}",
        ]  # fmt: skip
        ready = f"http://{HOST}:{prometheus_port}/-/ready"
        stack.enter_context(running("prometheus", argv, base, ready_url=ready))
        yield ports, prometheus_port


def _notification(status: str, alert: dict[str, Any]) -> dict[str, Any]:
    return {"version": "4", "groupKey": "{}:{histograms}", "status": status,
            "receiver": "webhook", "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093",
            "alerts": [{**alert, "status": status}]}  # fmt: skip


def _query(port: int, expr: str) -> list[dict[str, Any]]:
    url = f"http://{HOST}:{port}/api/v1/query"
    body = requests.get(url, params={"query": expr}, timeout=5).json()
    assert body["status"] == "success", body
    found: list[dict[str, Any]] = body["data"]["result"]
    return found


def test_each_incident_is_observed_once_whichever_replica_saw_it(scraped) -> None:
    ports, prometheus = scraped
    replicas = [f"http://{HOST}:{port}" for port in ports.values()]
    alert = {
        "labels": {"alertname": "HistogramsOnce", "severity": "high", "service": "histo"},
        "annotations": {}, "startsAt": datetime.now(UTC).isoformat(),
        "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "histograms1",
    }  # fmt: skip
    for url in replicas:  # both peers of an Alertmanager pair send it
        resp = requests.post(f"{url}/alerts", json=_notification("firing", alert), headers=AUTH)
        assert resp.status_code == 200, resp.text
    [incident] = requests.get(f"{replicas[0]}/api/incidents", headers=AUTH, timeout=5).json()[
        "incidents"
    ]
    acked = requests.post(f"{replicas[1]}/api/incidents/{incident['alert_id']}/ack", json={},
                          headers=AUTH, timeout=5)  # fmt: skip
    assert acked.status_code == 200, acked.text
    for url in replicas:
        resolved = {**alert, "endsAt": datetime.now(UTC).isoformat()}
        resp = requests.post(f"{url}/alerts", json=_notification("resolved", resolved),
                             headers=AUTH, timeout=5)  # fmt: skip
        assert resp.status_code == 200, resp.text

    selector = '{job="webhook", severity="high", service="histo"}'

    def both_scraped() -> bool:
        counts = [_query(prometheus, f"{name}_count{selector}") for name in (TTA, TTR)]
        return all(len(c) == 2 for c in counts)

    wait_until(both_scraped, 30, "both replicas' histograms scraped")
    for name in (TTA, TTR):
        per_replica = {r["metric"]["instance"]: r["value"][1]
                       for r in _query(prometheus, f"{name}_count{selector}")}  # fmt: skip
        assert sorted(per_replica.values()) == ["1", "1"], (name, per_replica)
        [within_a_minute] = _query(prometheus, f'max({name}_bucket{{{selector[1:-1]}, le="60.0"}})')
        assert within_a_minute["value"][1] == "1"  # acknowledged and resolved within seconds
        expr = (
            f"histogram_quantile(0.5, sum by (le) (max by (service, le) ({name}_bucket{selector})))"
        )
        [median] = _query(prometheus, expr)
        assert 0 <= float(median["value"][1]) <= 5, (name, median)
