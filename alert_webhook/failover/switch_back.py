"""The switch-back duty: a service failed over goes back to its primary once healthy."""

from __future__ import annotations

import logging
from collections.abc import Callable

from alert_webhook.failover.switch import Failover
from alert_webhook.remediation.actions.base import ActionOutcome, Boundaries

logger = logging.getLogger("alert_webhook.failover")


class FailoverSwitchBack:
    """A service failed over goes back to its primary once the primary has passed
    every health check for the service's `switch_back_after`, through the same
    mechanism, recorded the same way. Each service is checked every
    `check_interval`; the record of how long the primary has been healthy is in
    the store, so a failure seen by any replica starts the wait again."""

    def __init__(self, failover: Failover, boundaries: Boundaries, clock: Callable[[], float]):
        self.failover, self.boundaries, self.clock = failover, boundaries, clock
        self._next_check: dict[str, float] = {}

    def __call__(self) -> None:
        for name, service in self.failover.settings.services.items():
            now = self.clock()
            if service.switch_back_after is None or now < self._next_check.get(name, now):
                continue
            self._next_check[name] = now + service.check_interval
            done = self.failover.switch_back_if_due(name, service, self.boundaries)
            if done is not None and done.outcome is ActionOutcome.SUCCEEDED:
                logger.warning("failover %s: switched back to %s", name, service.primary.name)
            elif done is not None:
                logger.error("failover %s: switching back failed: %s", name, done.detail)
