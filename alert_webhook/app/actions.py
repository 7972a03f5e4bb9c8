"""The actions registry the factory builds: the built-in actions, and failover's,
bound to its collaborator (the chains and their record) when it is registered,
so no action's base knows any one action. A playbook file is checked against
`registered_actions()`; `create_app` binds the chains it built into the
playbooks it runs (`Playbooks.binding`)."""

from __future__ import annotations

from alert_webhook.failover.action import failover_action
from alert_webhook.failover.switch import Failover
from alert_webhook.remediation.actions import Action, builtin_actions


def registered_actions(failover: Failover | None = None) -> dict[str, Action]:
    """name → action: what playbooks are checked against and the runner runs.
    Without `failover` the failover action is known but fails when run."""
    return {**builtin_actions(), "failover": failover_action(failover)}
