"""The actions registry the factory builds: the built-in actions, and those bound
to a collaborator when they are registered (failover, to its chains and their
record), so no action's base knows any one action."""

from __future__ import annotations

from alert_webhook.failover.action import failover_action
from alert_webhook.failover.switch import Failover
from alert_webhook.remediation.actions import Action, builtin_actions


def registered_actions(failover: Failover | None = None) -> dict[str, Action]:
    """name → action: what playbooks are checked against and the runner runs.
    Without `failover` the failover action is known but fails when run."""
    return {**builtin_actions(), "failover": failover_action(failover)}
