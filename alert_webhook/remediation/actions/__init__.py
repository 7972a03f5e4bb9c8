"""Remediation actions: one module each, a typed parameter model and one `run`."""

from __future__ import annotations

from alert_webhook.remediation.actions.base import (
    Action,
    ActionOutcome,
    ActionParams,
    ActionResult,
    Boundaries,
)


def default_actions() -> dict[str, Action]:
    """name → action; the registry playbooks are checked against and the runner uses."""
    from alert_webhook.failover import action as failover
    from alert_webhook.remediation.actions import (
        cleanup_disk,
        http_request,
        restart_service,
        restore_from_backup,
        run_command,
    )

    actions = (
        run_command.ACTION,
        http_request.ACTION,
        restart_service.ACTION,
        cleanup_disk.ACTION,
        failover.ACTION,
        restore_from_backup.ACTION,
    )
    return {action.name: action for action in actions}


__all__ = [
    "Action",
    "ActionParams",
    "ActionResult",
    "Boundaries",
    "ActionOutcome",
    "default_actions",
]
