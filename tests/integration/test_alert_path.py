"""A metric crossing a rule's threshold reaches the webhook's store, then resolves."""

from __future__ import annotations

from typing import Any

import requests
from support.procs import wait_until

# Measured: about 1.2 s from crossing to webhook with 1 s intervals; allow 10 s.
PATH_TIMEOUT = 10.0


def _alerts(path: Any, status: str) -> list[dict[str, Any]]:
    response = requests.get(
        path.url("webhook", "/api/alerts"), params={"status": status}, timeout=2
    )
    response.raise_for_status()
    return [a for a in response.json()["alerts"] if a["alertname"] == "TaskQueueDepthHigh"]


def _scraped(path: Any, job: str) -> bool:
    response = requests.get(
        path.url("prometheus", "/api/v1/query"), params={"query": f'up{{job="{job}"}}'}, timeout=2
    )
    result = response.json()["data"]["result"]
    return bool(result) and result[0]["value"][1] == "1"


def test_threshold_crossing_fires_then_resolves(alert_path: Any) -> None:
    for job in ("demo", "system", "webhook"):
        wait_until(lambda job=job: _scraped(alert_path, job), 15, f"Prometheus to scrape {job}")
    assert _alerts(alert_path, "firing") == []

    requests.post(alert_path.url("demo", "/chaos"), json={"queue_depth": 150}, timeout=2)
    wait_until(lambda: _alerts(alert_path, "firing"), PATH_TIMEOUT, "TaskQueueDepthHigh firing")
    [alert] = _alerts(alert_path, "firing")
    assert alert["labels"]["severity"] == "high"
    assert alert["labels"]["category"] == "resource_exhaustion"
    assert alert["labels"]["job"] == "demo"

    requests.post(alert_path.url("demo", "/chaos/reset"), timeout=2)
    wait_until(lambda: _alerts(alert_path, "resolved"), PATH_TIMEOUT, "TaskQueueDepthHigh resolved")
    [resolved] = _alerts(alert_path, "resolved")
    assert resolved["fingerprint"] == alert["fingerprint"]
    assert _alerts(alert_path, "firing") == []


def test_webhook_refuses_alertmanager_without_token(alert_path: Any) -> None:
    # The token is what lets Alertmanager in; anybody else gets 401.
    response = requests.post(alert_path.url("webhook", "/alerts"), data=b"{}", timeout=2)
    assert response.status_code == 401


def _query(path: Any, promql: str) -> list[dict[str, Any]]:
    response = requests.get(
        path.url("prometheus", "/api/v1/query"), params={"query": promql}, timeout=2
    )
    response.raise_for_status()
    return response.json()["data"]["result"]


def test_the_demos_own_traffic_feeds_the_request_alerts(alert_path: Any) -> None:
    # Nobody but the demo itself calls /api/orders here (Prometheus and the probes
    # read /metrics and /healthz): its traffic alone clears the request rules'
    # minimum rate, so the chaos switches of README's Try it have something to act on.
    wait_until(
        lambda: _query(
            alert_path,
            'job_handler:http_requests:rate5m{job="demo", handler="/api/orders"} >= 0.05',
        ),
        20,
        "the demo's own traffic on /api/orders",
    )
    requests.post(alert_path.url("demo", "/chaos"), json={"error_ratio": 1}, timeout=2)

    def error_rate_high() -> list[dict[str, Any]]:
        response = requests.get(
            alert_path.url("webhook", "/api/alerts"), params={"status": "firing"}, timeout=2
        )
        return [a for a in response.json()["alerts"] if a["alertname"] == "ErrorRateHigh"]

    wait_until(error_rate_high, 30, "ErrorRateHigh for the demo at the webhook")
    [alert] = error_rate_high()
    assert alert["labels"]["service"] == "demo"
