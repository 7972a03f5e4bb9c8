"""failover/action.py: a playbook names only the service, a label may choose it
through the usual checked template, and the chain comes from the settings."""

from __future__ import annotations

import pytest
from failover_support import Backends
from webhook_support import FakeClock, make_alert

from alert_webhook.app.actions import registered_actions
from alert_webhook.failover.action import FailoverParams, failover_action
from alert_webhook.failover.config import FailoverSettings
from alert_webhook.failover.state import FailoverStates
from alert_webhook.failover.switch import Failover
from alert_webhook.ingest.payload import Alert
from alert_webhook.remediation.actions.base import ActionOutcome, Boundaries
from alert_webhook.remediation.playbooks import (
    DEFAULT_PLAYBOOK_FILE,
    Step,
    load_playbooks,
    playbooks_from_mapping,
    render_step,
)
from alert_webhook.remediation.templates import Refused
from toolkit.config import ConfigError

STEP = Step(action="failover", params={"service": "{labels.service}"})


@pytest.mark.parametrize(
    "value", ["../etc", "/etc/passwd", "db;rm -rf /", "$(reboot)", "-rf", "db\nx", "a\x00b", ""]
)
def test_a_hostile_service_label_never_reaches_the_action(value: str) -> None:
    with pytest.raises(Refused, match="needed by service"):
        render_step(STEP, registered_actions(), {"service": value})


def test_a_service_label_selects_the_service() -> None:
    rendered = render_step(STEP, registered_actions(), {"service": "orders-db"})
    assert rendered.params == FailoverParams(service="orders-db")


def test_a_playbook_may_fill_only_the_service() -> None:
    with pytest.raises(ConfigError) as caught:
        playbooks_from_mapping(
            {
                "playbooks": [
                    {
                        "name": "fail-over",
                        "match": {"category": "connection"},
                        "actions": [
                            {"action": "failover",
                             "params": {"service": "db", "backend": "{labels.instance}"}},
                        ],
                    }
                ]
            },
            "playbooks.yml",
            registered_actions(),
        )  # fmt: skip
    assert (
        "playbooks.yml: playbooks[0].actions[0].params.backend: unknown key" in caught.value.lines
    )


def test_the_action_fails_over_the_service_it_names(lb: Backends, store) -> None:
    settings = FailoverSettings.model_validate({"services": {"orders": lb.service("a", "b")}})
    failover = Failover(settings, FailoverStates(store.tx, store.engine.dialect), FakeClock())
    lb.health = {"a": 503}
    action = registered_actions(failover)["failover"]  # bound when registered
    done = action.run(FailoverParams(service="orders"), 10, Boundaries())
    assert done.outcome is ActionOutcome.SUCCEEDED, done.detail
    assert lb.switched == ["b"]
    assert failover.active("orders", settings.services["orders"]) == "b"


def test_without_a_failover_section_the_action_fails_saying_so() -> None:
    done = failover_action(None).run(FailoverParams(service="orders"), 10, Boundaries())
    assert (done.outcome, done.detail) == (
        ActionOutcome.FAILED, "no failover section in the webhook's settings",
    )  # fmt: skip


def test_the_shipped_failover_playbook_is_a_dry_run_for_every_service_but_the_demo() -> None:
    loaded = load_playbooks(DEFAULT_PLAYBOOK_FILE, registered_actions())
    labels = {"alertname": "ServiceUnavailable", "category": "connection", "service": "orders-db"}
    alert = Alert.model_validate(make_alert(**labels))
    chosen = loaded.select(alert)
    assert chosen is not None and (chosen.name, chosen.dry_run) == ("fail-over", True)
    rendered = render_step(chosen.actions[0], loaded.actions, labels)
    assert rendered.params == FailoverParams(service="orders-db")
    demo = alert.model_copy(update={"labels": {**labels, "service": "demo"}})
    assert loaded.select(demo).name == "restart-demo"  # restarted, as before
