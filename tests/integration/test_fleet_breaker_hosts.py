"""The fleet breaker on real peers: the issue's scenario (tests/support/fleet_breaker.py
— three hosts fail at once with a limit of two → the third is not acted on,
automation pauses, exactly one page; resume works and is recorded) run by the
webhook's own app (create_app from settings: its runner, store, breaker and
Ansible executor) against three real sshd hosts.

The playbook's one step runs an Ansible playbook that notes on the host that it
got there, then exits 1, as a restart that breaks the service would: what the
hosts hold, not what the store says, is where the action reached. Three Ansible
runs reach hosts; ~15 s here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from support.fleet_breaker import SCENARIO_BREAKER, BreakerFleet, three_hosts_with_a_limit_of_two
from support.sshd import Fleet, ssh_fleet

from alert_webhook import create_app
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.store import SqlStore, open_store
from alert_webhook.web.context import EXTENSION

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TOKEN = "test-token-for-the-fleet-breaker"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Notes the time on the host it runs on (the host's own folder), then fails.
FAIL_ON_HOST = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: Restart the service (it does not come back)
      ansible.builtin.command:
        argv:
          - "{{{{ ansible_python_interpreter }}}}"
          - -c
          - "import sys, time; open(sys.argv[1], 'a').write(repr(time.time()) + ' '); sys.exit(1)"
          - "{root}/{{{{ inventory_hostname }}}}/acted"
"""
PLAYBOOKS = {
    "playbooks": [
        {
            "name": "restart-on-host",
            "match": {"alertname": "ServiceDown"},
            "target": ["host"],
            "actions": [
                {"action": "ansible", "params": {"playbook": "fail-on-host.yml"}, "timeout": "60s"}
            ],
            "cooldown": "1s",
            "blast_radius": 10,
        }
    ]
}
CONTACTS = {
    "email": {"recipients": ["oncall@example.org"]},
    "sms": {"recipients": ["+15555550100"]},
}


class Webhook:
    """The webhook's app over `fleet`, stepped by the test."""

    def __init__(self, fleet: Fleet, root: Path) -> None:
        self.fleet, self.fired = fleet, 0
        books = root / "ansible"
        books.mkdir()
        (books / "fail-on-host.yml").write_text(
            FAIL_ON_HOST.format(root=fleet.hosts[0].root.parent)
        )
        playbooks = root / "playbooks.yml"
        playbooks.write_text(json.dumps(PLAYBOOKS))
        settings = settings_from_mapping(
            {
                "channels": CONTACTS,
                "remediation": {"enabled": True, "playbooks_file": str(playbooks)},
                "fleet": {
                    "inventory": str(fleet.inventory),
                    "playbooks_dir": str(books),
                    "ssh": {"known_hosts": str(fleet.known_hosts),
                            "private_key_file": str(fleet.key)},
                    "breaker": SCENARIO_BREAKER,
                },
            },
            {"ALERT_WEBHOOK_TOKEN": TOKEN},
        )  # fmt: skip
        self.store: SqlStore = open_store(f"sqlite:///{root}/webhook.sqlite3")
        self.store.create_schema()
        self.app: Flask = create_app(settings, store=self.store)

    def fire(self, host: str) -> None:
        self.fired += 1
        alert = {
            "status": "firing", "fingerprint": f"{host}-{self.fired}", "generatorURL": "",
            "labels": {"alertname": "ServiceDown", "severity": "critical", "host": host,
                       "service": "demo"},
            "annotations": {}, "startsAt": f"2026-12-07T05:{self.fired:02d}:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
        }  # fmt: skip
        payload = {
            "version": "4", "groupKey": alert["fingerprint"], "status": "firing",
            "receiver": "webhook", "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "", "alerts": [alert],
        }  # fmt: skip
        reply = self.app.test_client().post("/alerts", json=payload, headers=AUTH)
        assert reply.status_code == 200, reply.get_data(as_text=True)

    def work(self) -> None:
        workers = self.app.extensions[EXTENSION].workers
        while workers.step("remediation"):
            pass

    def resume(self) -> Any:
        reply = self.app.test_client().post("/api/fleet/resume", headers=AUTH)
        assert reply.status_code == 200, reply.get_json()
        return reply.get_json()

    def acted_on(self) -> list[str]:
        """Where the step ran, in order, as the hosts recorded it."""
        seen = [
            (float(line), host.name)
            for host in self.fleet.hosts
            if (host.root / "acted").is_file()
            for line in (host.root / "acted").read_text().split()
        ]
        return [name for _at, name in sorted(seen)]

    def paused(self) -> float | None:
        registry = self.app.extensions[EXTENSION].metrics.registry
        value: float | None = registry.get_sample_value("alert_webhook_fleet_automation_paused")
        return value

    def scenario(self) -> BreakerFleet:
        return BreakerFleet(self.store, self.fire, self.work, self.resume, self.acted_on)


@pytest.fixture
def webhook(tmp_path: Path) -> Iterator[Webhook]:
    with ssh_fleet(tmp_path / "fleet", 3) as fleet:
        webhook = Webhook(fleet, tmp_path)
        try:
            yield webhook
        finally:
            webhook.store.dispose()


def test_three_hosts_fail_at_once_with_a_limit_of_two(webhook: Webhook) -> None:
    assert webhook.paused() == 0
    found = three_hosts_with_a_limit_of_two(webhook.scenario(), operator="api token")

    assert found.blocked_host == "host-3"
    # Each failure was Ansible's on the host: the command's exit status 1 (host-3's
    # after the resume).
    failed = sorted((r for r in webhook.store.runs.list() if r["status"] == "failed"),
                    key=lambda r: r["id"])  # fmt: skip
    assert [r["host"] for r in failed] == ["host-1", "host-2", "host-3"], failed
    for run in failed:
        [step] = run["steps"]
        assert (step["action"], step["status"]) == ("ansible", "failed"), step
        assert step["detail"].startswith(f"{run['host']} failed in task Restart"), step["detail"]
        assert "non-zero return code" in step["detail"], step["detail"]
    assert webhook.acted_on() == ["host-1", "host-2", "host-3"]  # host-3 after the resume
    assert {d["channel"] for d in found.page} == {"sms", "email", "dashboard"}
    assert "acting on host-3 would make 3 hosts acted on" in found.page[0]["note"]
    assert webhook.paused() == 0  # resumed
    breaker = webhook.app.test_client().get("/api/fleet/breaker", headers=AUTH).get_json()
    assert json.dumps(breaker).count('"api token"') == 1, breaker  # the resume, on record
