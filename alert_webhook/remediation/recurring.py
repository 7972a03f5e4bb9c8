"""Recurring heals: a target that automation keeps fixing pages a person.

Each verified run is a fix that worked, and tells nobody. But a service
restarted four times in two hours is a fault coming back: the restarts hide it,
and someone should look at the cause. So when a run ends verified and its
target has now been healed more than `max_heals` times within `window_seconds`
(this heal included), one page goes out — "service=demo healed 4 times in 2h:
look at the cause", with the runs listed — routed as a high alert of that
target (critical when the alert is), and not again for that target until a
window has passed since.

Once across replicas: the page is written in the verified run's own final
transaction (`run_notices.tell_ending`), after one guarded write of the
target's row in `recurring_heals` (`claim_page`: an INSERT that only the first
page of a target makes, or an UPDATE only past the window), so two replicas
ending two heals of one target at once page once. The decision and the words
are here; the SQL is in `run_notices.py`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import Field

from alert_webhook.delivery.routing import Router
from alert_webhook.delivery.rows import NewDelivery, Purpose, telling
from alert_webhook.text import one_line
from alert_webhook.times import duration
from toolkit.config import Strict

PAGE_CHARS = 1500  # of the page's text: it goes into SMS and subjects as it is
HIGH = "high"  # the least a recurring heal is routed as


class RecurringHealsSettings(Strict):
    """`remediation.recurring_heals`. Why 3 in 2 h: the shipped restart
    playbooks allow 3 attempts an hour, so a fourth heal within two hours is
    the fault outlasting more than one budget; a page every two hours at most
    is one a person can act on."""

    enabled: bool = True
    max_heals: int = Field(default=3, ge=1)  # paged past this many in the window
    window_seconds: float = Field(default=7200.0, gt=0)


@dataclass(frozen=True)
class Heal:
    """One verified run on the target, as the store holds it."""

    run_id: int
    playbook: str
    alertname: str
    finished_at: float


@dataclass(frozen=True)
class RecurringHeals:
    """What a verified run's ending hands the store: the limit, and the page."""

    settings: RecurringHealsSettings
    router: Router
    stored_channels: frozenset[str]

    @property
    def window(self) -> float:
        return self.settings.window_seconds

    def exceeded(self, heals: Sequence[Heal]) -> bool:
        return self.settings.enabled and len(heals) > self.settings.max_heals

    def page(
        self, run_id: int, alert_id: int, event_id: int, target: str,
        labels: dict[str, str], severity: str, heals: Sequence[Heal], now: float,
    ) -> list[NewDelivery]:  # fmt: skip
        """The page's deliveries, routed as a high (or critical) alert of these
        labels, `recurring-heals-<run>` for the run that made it one too many."""
        text = page_text(target, heals, self.window)
        routed = dict(labels, severity="critical" if severity == "critical" else HIGH)
        purpose = Purpose.RECURRING_HEALS.nth(run_id)
        targets = self.router.targets(routed)
        return telling(alert_id, event_id, targets, self.stored_channels, purpose, text, now)


def _at(moment: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(moment))


def page_text(target: str, heals: Sequence[Heal], window: float) -> str:
    """One line: how often, over how long, and each run (id, playbook, alert,
    when it verified). Labels come from outside: one line each."""
    runs = "; ".join(
        f"run {h.run_id} {h.playbook} for {h.alertname} at {_at(h.finished_at)}" for h in heals
    )
    text = one_line(
        f"{target} healed {len(heals)} times in {duration(window)}: look at the cause "
        f"(each fix verified, and the fault came back). Runs: {runs}"
    )
    return text if len(text) <= PAGE_CHARS else text[: PAGE_CHARS - 1] + "…"
