"""The alerts the webhook raises itself, recorded as Alertmanager's are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from alert_webhook.clients.alertmanager import rfc3339
from alert_webhook.ingest.firing import OWN_GROUP_KEY_PREFIX
from alert_webhook.ingest.payload import Notification

PIPELINE_BROKEN = "AlertingPipelineBroken"


# The alerts the webhook raises itself, by severity; each has its runbook at
# <links.runbook_base_url>/<alertname>.md, like the rules' alerts.
OWN_ALERTS: dict[str, str] = {PIPELINE_BROKEN: "critical"}


Accept = Callable[[Notification, bytes, float], object]


def runbook_url(base_url: str, alertname: str) -> str:
    return f"{base_url.rstrip('/')}/{alertname}.md"


def own_notification(group: str, status: str, alert: dict[str, Any]) -> Notification:
    """A notification the webhook makes itself about one alert, shaped as
    Alertmanager's: it is recorded and delivered as theirs are. Its group key
    marks it as ours (`firing.py`): the reconcile duty never checks an
    alert of ours against Alertmanager."""
    return Notification.model_validate(
        {"version": "4", "groupKey": f"{OWN_GROUP_KEY_PREFIX}{group}", "status": status,
         "receiver": "alert_webhook", "alerts": [{"status": status, **alert}]}
    )  # fmt: skip


class HeldFiring(Protocol):
    """An alert instance the store holds as firing, as much as its resolution needs."""

    @property
    def fingerprint(self) -> str: ...
    @property
    def starts_at(self) -> str: ...
    @property
    def generator_url(self) -> str: ...
    @property
    def labels(self) -> dict[str, str]: ...
    @property
    def annotations(self) -> dict[str, str]: ...


def record_resolved(accept: Accept, group: str, alert: HeldFiring, now: float) -> None:
    """Record `alert` resolved now, as Alertmanager's resolved notification would:
    its state change, messages and metrics follow, and Alertmanager's own, when it
    comes, changes nothing."""
    notification = own_notification(group, "resolved", {
        "labels": alert.labels, "annotations": alert.annotations,
        "startsAt": alert.starts_at, "endsAt": rfc3339(now),
        "generatorURL": alert.generator_url, "fingerprint": alert.fingerprint,
    })  # fmt: skip
    accept(notification, notification.model_dump_json().encode(), now)
