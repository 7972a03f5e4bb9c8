"""verify.py against a real Prometheus: it scrapes a tiny exporter this test
runs (two services' `demo_up`) every second and evaluates an alerting rule; the
alerts it sends to a loopback receiver carry the real generatorURLs. The HTTP
client, the alert's expression from that URL, the restriction to the alert's
own series and the window query all meet the real query API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from support.loopback import Replying, serving
from support.procs import find_binary, free_port, running, wait_until

from alert_webhook.remediation.lag import RecordingRule
from alert_webhook.remediation.playbooks import Verify, playbooks_from_mapping
from alert_webhook.remediation.verify import (
    Checks,
    HttpPrometheus,
    PrometheusError,
    Verdict,
    alert_expression,
)

pytestmark = pytest.mark.integration

RULES = {"groups": [
    {"name": "demo", "interval": "1s", "rules": [
        {"alert": "DemoDown", "expr": "demo_up == 0", "labels": {"severity": "high"}},
    ]},
    {"name": "slow", "interval": "7s", "rules": [
        {"record": "service:demo_up:min5m", "expr": "min_over_time(demo_up[5m])"},
    ]},
]}  # fmt: skip


class _Peer(Replying):
    """The exporter (GET /metrics) and the Alertmanager Prometheus posts to."""

    up: ClassVar[dict[str, int]] = {}
    alerts: ClassVar[dict[str, dict[str, Any]]] = {}

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = "".join(f'demo_up{{service="{s}"}} {v}\n' for s, v in self.up.items()).encode()
        self.reply(200, body)

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        length = int(self.headers.get("Content-Length", 0))
        for alert in json.loads(self.rfile.read(length)):
            type(self).alerts[alert["labels"]["service"]] = alert
        self.reply(200, b"")


@pytest.fixture
def peer() -> Iterator[int]:
    _Peer.up, _Peer.alerts = {"demo": 0, "web": 0}, {}
    with serving(_Peer) as port:
        yield port


@pytest.fixture
def prometheus(tmp_path: Path, peer: int) -> Iterator[str]:
    port = free_port()
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(RULES))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "rules.yml")],
        "scrape_configs": [{"job_name": "demo",
                            "static_configs": [{"targets": [f"127.0.0.1:{peer}"]}]}],
        "alerting": {"alertmanagers": [{"api_version": "v2",
                                        "static_configs": [{"targets": [f"127.0.0.1:{peer}"]}]}]},
    }  # fmt: skip
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    url = f"http://127.0.0.1:{port}"
    argv = [
        find_binary("PROMETHEUS_BIN"),
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running("prometheus", argv, tmp_path, ready_url=f"{url}/-/ready"):
        yield url


def test_a_fixed_service_verifies_while_another_still_down_does_not(prometheus: str) -> None:
    wait_until(lambda: set(_Peer.alerts) == {"demo", "web"}, 60, "both DemoDown alerts")
    demo, web = _Peer.alerts["demo"], _Peer.alerts["web"]
    assert alert_expression(demo["generatorURL"]) == "demo_up == 0"
    client = HttpPrometheus(prometheus)
    checks, verify = Checks(client), Verify(window=2)

    def check(alert: dict[str, Any], verify: Verify) -> Verdict:
        began = checks.begin(verify, alert["generatorURL"], "DemoDown", time.time())
        return checks.verify(began, alert["labels"], began.until)  # the deadline's check

    before = check(demo, verify)
    assert not before.cleared
    assert before.detail.startswith("not verified: DemoDown's condition still returned 1 series")

    _Peer.up["demo"] = 1  # the remediation fixed demo; web is still down
    wait_until(lambda: not client.query('demo_up{service="demo"} == 0'), 30, "demo up again")
    # Up now, but down within the last 30 s: not yet verified over that window.
    recent = check(demo, Verify(window=30))
    assert not recent.cleared and "1 series of this alert" in recent.detail
    wait_until(lambda: check(demo, verify).cleared, 30,
               "demo_up == 0 to return nothing of demo for 2s")  # fmt: skip
    still = check(web, verify)
    assert not still.cleared and "1 series of this alert" in still.detail


def test_the_lag_comes_from_the_real_rules_and_config_apis(prometheus: str) -> None:
    client = HttpPrometheus(prometheus)
    assert client.scrape_interval() == 1.0
    assert RecordingRule("service:demo_up:min5m", "min_over_time(demo_up[5m])", 7.0) in (
        client.recordings()
    )
    found = Checks(client).lag("service:demo_up:min5m < 1")
    assert found.words() == "5m range + 7s rule evaluation + 1s scrape interval"


def test_preconditions_and_a_bad_query_against_the_real_query_api(prometheus: str) -> None:
    client = HttpPrometheus(prometheus)
    wait_until(lambda: len(client.query("demo_up")) == 2, 30, "both demo_up series")
    pool = {"name": "p", "match": {"alertname": "DemoDown"}, "actions": []}
    books = playbooks_from_mapping({"playbooks": [
        pool | {"name": "half", "precondition": {"query": "avg(demo_up) >= 0.8", "reason": "r"}},
        pool | {"name": "both", "precondition": {"query": "count(demo_up) == 2", "reason": "r"}},
    ]}).playbooks  # fmt: skip
    checks = Checks(client)
    mostly_up, counted = (checks.precondition(b) for b in books)
    assert mostly_up is not None and counted is not None
    assert (mostly_up.holds, counted.holds) == (False, True)
    with pytest.raises(PrometheusError, match=r"answered 400: .*parse error"):
        client.query("demo_up ==")
