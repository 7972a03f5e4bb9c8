"""Remediation actions: one module each, a typed parameter model and one `run`."""

from __future__ import annotations

from alert_webhook.remediation.actions.base import (
    Action,
    ActionOutcome,
    ActionParams,
    ActionResult,
    Boundaries,
)


def builtin_actions() -> dict[str, Action]:
    """name → action, for the actions that need nothing beyond their boundaries.
    The factory's registry (`alert_webhook/app/actions.py`) adds those bound to a
    collaborator (failover)."""
    from alert_webhook.remediation.actions import (
        ansible,
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
        restore_from_backup.ACTION,
        ansible.ACTION,
    )
    return {action.name: action for action in actions}


__all__ = [
    "Action",
    "ActionOutcome",
    "ActionParams",
    "ActionResult",
    "Boundaries",
    "builtin_actions",
]
