"""failover: switch a service onto the next healthy backend of its chain.

The playbook names only the service (often `{labels.service}`, checked like any
label value); its chain of backends, their health checks and the way to switch
(an HTTP call, a command, a symlink swap) are the webhook settings' `failover:`
section, read by this action and the switch-back duty alike. So a label can
choose which configured service fails over, never where it fails over to.
"""

from __future__ import annotations

from typing import ClassVar

from alert_webhook.failover.config import SERVICE_NAME, ServiceName
from alert_webhook.failover.switch import Failover
from alert_webhook.remediation.actions.base import (
    Action,
    ActionOutcome,
    ActionParams,
    ActionResult,
    Boundaries,
)


class FailoverParams(ActionParams):
    service: ServiceName  # a service of the settings' `failover.services`

    label_patterns: ClassVar[dict[str, str]] = {"service": SERVICE_NAME}


def failover_action(failover: Failover | None) -> Action:
    """The `failover` action bound to the chains it switches and their record in
    the store; None (no `failover:` section in the settings): every run fails
    saying so."""

    def run(params: FailoverParams, timeout: float, ctx: Boundaries) -> ActionResult:
        if failover is None:
            detail = "no failover section in the webhook's settings"
            return ActionResult(ActionOutcome.FAILED, None, "", 0.0, detail)
        return failover.fail_over(params.service, timeout, ctx)

    return Action("failover", FailoverParams, run)
