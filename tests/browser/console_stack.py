"""The webhook as `make up` runs it, with real peers, for the browser tests.

One per test module: a real Alertmanager on the shipped routes (fast timings)
notifying the real webhook server (`python -m alert_webhook`, waitress) on a
free port, which sends SMS through the real twilio client to the loopback
Messages API the SMS tests use, email to aiosmtpd, and runs remediation
playbooks checked against a Prometheus that finds nothing (so a run that acted
ends verified). Alerts enter where Prometheus would send them: Alertmanager's
`POST /api/v2/alerts`. Everything is stopped when the block ends.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml
from fakes import TWILIO_ENV, FakeTwilio, MailBox, fake_twilio, smtp_provider, smtp_server
from fakes import twilio_provider as twilio_settings
from support.loopback import quiet_prometheus
from support.procs import find_binary, free_port, python_module, running, wait_until
from webhook_support import OPERATOR_HASH, SECRET_KEY

from stack import render
from stack.ports import HOST, SERVICES
from stack.up import TOKEN_ENV

OPERATOR = "alice"
SMS_RECIPIENT, SMS_TIER2 = "+15555550100", "+15555550199"
SMS_NAME = "bob"  # who SMS_RECIPIENT is, for acknowledgements by SMS reply
EMAIL_RECIPIENT, EMAIL_TIER2 = "oncall@example.org", "lead@example.org"
# Alerts named so run this playbook: a command that writes what it acted on.
REMEDIATED = "BrowserRemediated"
NEEDS_APPROVAL = "BrowserNeedsApproval"  # ... once an operator approves it
APPEND = "import sys; open(sys.argv[1], 'a').write(sys.argv[2] + '\\n')"
# Alertmanager, the webhook and the peers start in a few seconds here.
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class ConsoleStack:
    webhook: str  # base URL, no trailing slash
    alertmanager: str
    token: str
    twilio: FakeTwilio
    mail: MailBox
    acted: Path  # one line per remediation command that ran

    def fire(self, alertname: str, service: str, severity: str = "critical", **extra: str) -> None:
        """An alert that fires now, sent to Alertmanager as Prometheus sends it."""
        self._post_alert(alertname, service, severity, extra, ends_in=timedelta(hours=1))

    def resolve(
        self, alertname: str, service: str, severity: str = "critical", **extra: str
    ) -> None:
        """The same alert ended, as Prometheus says so: its endsAt in the past."""
        self._post_alert(alertname, service, severity, extra, ends_in=-timedelta(seconds=1))

    def _post_alert(
        self,
        alertname: str,
        service: str,
        severity: str,
        extra: Mapping[str, str],
        ends_in: timedelta,
    ) -> None:
        now = datetime.now(UTC)
        labels = {"alertname": alertname, "service": service, "severity": severity,
                  "instance": f"{service}:8080", "job": service, **extra}  # fmt: skip
        alert = {
            "labels": labels,
            "annotations": {"summary": f"{alertname} on {service}",
                            "runbook_url": f"https://example.org/runbooks/{alertname}"},
            "startsAt": (now - timedelta(minutes=3)).isoformat(),
            "endsAt": (now + ends_in).isoformat(),
            "generatorURL": f"http://{HOST}:9090/graph?g0.expr=up",
        }  # fmt: skip
        response = requests.post(f"{self.alertmanager}/api/v2/alerts", json=[alert], timeout=5)
        response.raise_for_status()

    def get(self, path: str, **params: Any) -> Any:
        """A JSON read of the webhook's API, with the bearer token."""
        response = requests.get(
            f"{self.webhook}{path}", params=params, headers=self.bearer(), timeout=5
        )
        response.raise_for_status()
        return response.json()

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def incident(self, alertname: str) -> dict[str, Any] | None:
        """The newest incident row of the alert named so, or None."""
        rows = [i for i in self.get("/api/incidents")["incidents"] if i["alertname"] == alertname]
        return rows[0] if rows else None

    def alert_id(self, alertname: str, service: str | None = None, timeout: float = 15.0) -> int:
        """The webhook's id of the firing alert named so (on `service`, when
        given), once Alertmanager has sent it."""
        found: list[int] = []

        def arrived() -> bool:
            alerts = self.get("/api/alerts", status="firing")["alerts"]
            found[:] = [
                a["id"]
                for a in alerts
                if a["alertname"] == alertname and service in (None, a["labels"]["service"])
            ]
            return bool(found)

        wait_until(arrived, timeout, f"{alertname} at the webhook")
        return found[0]

    def deliveries(self, alert_id: int) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.get("/api/deliveries", alert_id=alert_id)["deliveries"]
        return rows


def _playbooks(path: Path, acted: Path) -> Path:
    step = {
        "action": "run_command",
        "params": {"argv": [sys.executable, "-c", APPEND, str(acted), "{labels.service}"]},
    }
    # The check asks its own query of a Prometheus that finds nothing: verified.
    verify = {"query": "browser_remediated_failing", "delay": "1s", "window": "1s"}
    book = {"name": "browser-fix", "match": {"alertname": REMEDIATED}, "target": ["service"],
            "actions": [step], "verify": verify}  # fmt: skip
    # The same, acting only once an operator approves it.
    gated = {**book, "name": "browser-approve", "match": {"alertname": NEEDS_APPROVAL},
             "require_approval": True, "approval_timeout": "10m"}  # fmt: skip
    path.write_text(yaml.safe_dump({"playbooks": [book, gated]}))
    return path


def _webhook_config(
    folder: Path,
    ports: Mapping[str, int],
    remediation: Mapping[str, Any],
    twilio: FakeTwilio,
    mail: MailBox,
    overrides: Mapping[str, Any],
) -> Path:
    """The shipped webhook.yml on these ports, with one operator, both person
    channels on the loopback peers, and `overrides` merged over its top-level keys."""
    path = render.render_webhook(folder, ports, {OPERATOR: OPERATOR_HASH}, remediation)
    config = yaml.safe_load(path.read_text())
    config["channels"]["sms"].update(
        providers=[twilio_settings(twilio)], recipients=[SMS_RECIPIENT],
        escalation_recipients=[SMS_TIER2], names={SMS_RECIPIENT: SMS_NAME},
    )  # fmt: skip
    config["channels"]["email"].update(
        providers=[smtp_provider(mail, sender="alerts@example.org")],
        recipients=[EMAIL_RECIPIENT], escalation_recipients=[EMAIL_TIER2],
    )  # fmt: skip
    for key, value in overrides.items():
        config[key] = {**(config.get(key) or {}), **value}
    path.write_text(yaml.safe_dump(config))
    return path


def _alertmanager(base: Path, ports: Mapping[str, int], token: str) -> Any:
    """The shipped routes with the fast timings (`group_wait: 0s`), sending to the
    webhook with its token; clustering off."""
    home = base / "alertmanager"
    home.mkdir()
    config = render.render_alertmanager(home, ports, token, fast=True)
    url = f"http://{HOST}:{ports['alertmanager']}"
    argv = [
        find_binary("ALERTMANAGER_BIN"),
        f"--config.file={config}",
        f"--storage.path={home / 'data'}",
        f"--web.listen-address={HOST}:{ports['alertmanager']}",
        "--cluster.listen-address=",
    ]
    return running("alertmanager", argv, base, ready_url=f"{url}/-/ready", timeout=START_TIMEOUT)


def _webhook(base: Path, config: Path, port: int, token: str) -> Any:
    """`python -m alert_webhook` as `make up` runs it, credentials in its environment."""
    argv = python_module("alert_webhook", f"--config={config}", f"--bind={HOST}:{port}")
    return running(
        "webhook",
        argv,
        base,
        ready_url=f"http://{HOST}:{port}/readyz",
        env={TOKEN_ENV: token, **SECRET_KEY, **TWILIO_ENV},
        cwd=config.parent,
        timeout=START_TIMEOUT,
    )


@contextmanager
def console_stack(base: Path, overrides: Mapping[str, Any] | None = None) -> Iterator[ConsoleStack]:
    """Every peer and the webhook up until the block ends, then stopped."""
    ports = {s.name: s.default_port for s in SERVICES}
    ports.update(webhook=free_port(), alertmanager=free_port())
    token = secrets.token_urlsafe(16)
    acted = base / "acted.log"
    with ExitStack() as peers:
        twilio = peers.enter_context(fake_twilio())
        mail = peers.enter_context(smtp_server())
        prometheus = peers.enter_context(quiet_prometheus())
        playbooks = _playbooks(base / "playbooks.yml", acted)
        remediation = {"enabled": True, "playbooks_file": str(playbooks),
                       "prometheus_url": prometheus}  # fmt: skip
        config = _webhook_config(
            base / "webhook", ports, remediation, twilio, mail, overrides or {}
        )
        peers.enter_context(_webhook(base, config, ports["webhook"], token))
        peers.enter_context(_alertmanager(base, ports, token))
        webhook, alertmanager = (f"http://{HOST}:{ports[n]}" for n in ("webhook", "alertmanager"))
        yield ConsoleStack(webhook, alertmanager, token, twilio, mail, acted)
