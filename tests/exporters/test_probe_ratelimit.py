"""The HTTP probe against a real loopback API that announces its rate limit: the
check publishes the headroom, and the real exporter process serves it on /metrics."""

from __future__ import annotations

import email.utils
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from support.loopback import Replying, serving
from support.procs import free_port, python_module, running, wait_until

pytestmark = pytest.mark.integration


class RateLimitedApi(Replying):
    """Answers `/?status=429&Retry-After=30&...`: that status, with every other
    query parameter sent back as a response header."""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        query = parse_qsl(urlsplit(self.path).query, keep_blank_values=True)
        status = int(dict(query).get("status", "200"))
        body = b'{"status": "ok"}'
        self.send_response(status)
        for name, value in query:
            if name != "status":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def api() -> str:
    with serving(RateLimitedApi) as port:
        yield f"http://127.0.0.1:{port}/"


def url(base: str, **params: str) -> str:
    return requests.Request("GET", base, params=params).prepare().url or base


def test_x_ratelimit_headroom_is_published(api, check, run):
    reset = str(int(time.time()) + 600)  # GitHub's epoch form
    probe = check(
        kind="http",
        url=url(
            api,
            **{"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "42"},
            **{"X-RateLimit-Reset": reset},
        ),
    )
    outcome = run(probe)
    assert outcome.category is None, outcome.message
    assert outcome.value("probe_http_ratelimit_limit") == 5000
    assert outcome.value("probe_http_ratelimit_remaining") == 42
    assert 590 <= (outcome.value("probe_http_ratelimit_reset_seconds") or 0) <= 600
    assert outcome.value("probe_http_retry_after_seconds") is None  # not sent: not made up


def test_ietf_ratelimit_headroom_is_published(api, check, run):
    probe = check(
        kind="http",
        url=url(
            api, **{"RateLimit-Policy": '"default";q=100;w=60', "RateLimit": '"default";r=5;t=30'}
        ),
    )
    outcome = run(probe)
    assert outcome.value("probe_http_ratelimit_limit") == 100
    assert outcome.value("probe_http_ratelimit_remaining") == 5
    assert outcome.value("probe_http_ratelimit_reset_seconds") == 30


def test_throttled_answer_publishes_retry_after_and_is_resource_exhaustion(api, check, run):
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    outcome = run(check(kind="http", url=url(api, status="429", **{"Retry-After": when})))
    assert outcome.category == "resource_exhaustion"
    assert 110 <= (outcome.value("probe_http_retry_after_seconds") or 0) <= 120
    assert outcome.value("probe_http_status_code") == 429


def test_garbage_headers_are_named_and_the_probe_still_succeeds(api, check, run):
    probe = check(
        kind="http",
        url=url(api, **{"X-RateLimit-Remaining": "lots", "Retry-After": "whenever"}),
    )
    outcome = run(probe)
    assert outcome.category is None, outcome.message
    assert outcome.value("probe_http_ratelimit_remaining") is None
    assert outcome.value("probe_http_retry_after_seconds") is None
    for header in ("x-ratelimit-remaining", "retry-after"):
        assert outcome.value("probe_http_ratelimit_header_invalid", header=header) == 1


def test_the_exporter_serves_the_headroom_with_the_probes_labels(api, tmp_path):
    limited = url(api, **{"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "3"})
    probes = tmp_path / "probes.yml"
    probes.write_text(
        f"""
checks:
  - {{name: partner-api, kind: http, service: partner, host: host-2, url: "{limited}"}}
  - {{name: plain, kind: http, url: "{api}"}}
"""
    )
    port = free_port()
    metrics = f"http://127.0.0.1:{port}/metrics"
    argv = python_module(
        "exporters.probe", "--listen", f"127.0.0.1:{port}", "--config", str(probes)
    )

    def scrape() -> dict[str, list[tuple[dict[str, str], float]]]:
        found: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(requests.get(metrics, timeout=5).text):
            for sample in family.samples:
                found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
        return found

    with running("probe-exporter", argv, tmp_path, ready_url=metrics):
        wait_until(lambda: len(scrape().get("probe_success", [])) == 2, 20, "both probes' runs")
        series = scrape()
    labels = {
        "probe": "partner-api",
        "kind": "http",
        "service": "partner",
        "instance": limited,
        "host": "host-2",
    }
    assert series["probe_http_ratelimit_limit"] == [(labels, 100)]
    assert series["probe_http_ratelimit_remaining"] == [(labels, 3)]
    # `plain` sent no rate-limit headers: no series for it, rather than a zero.
    assert "probe_http_ratelimit_reset_seconds" not in series
    assert "probe_http_retry_after_seconds" not in series
