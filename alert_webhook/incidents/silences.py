"""Operators' silences of incidents, through Alertmanager's v2 API.

An operator silences an incident for a chosen number of minutes: a real silence
in Alertmanager with the alert's labels as equality matchers (so it mutes that
alert and no neighbour), created by the operator, noted on the incident. While
it holds, the incident is not escalated or reminded.

Nothing is stored unless Alertmanager made the silence, and a silence made for
an incident that closed meanwhile is expired again at once: the store and
Alertmanager never disagree about a silence the webhook holds.

A silenced alert's resolution never reaches the webhook (Alertmanager sends
nothing about a muted alert), so `SilenceWatch`, a duty, asks Alertmanager for
the alert while the silence holds. Once it is no longer listed there (resolved,
or gone), the watch records its resolution as if Alertmanager had sent it — the
incident closes, the resolved message goes where the firing one went — and
expires the silence. Replicas all watching record it once: the resolved state
change is unique in the store.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alert_webhook.clients.alertmanager import (
    AlertmanagerAPI,
    AlertmanagerError,
    HeldAlert,
    matchers_for,
    to_millisecond,
)
from alert_webhook.incidents.store import HeldSilence, Incidents
from alert_webhook.ingest.own import Accept, record_resolved

logger = logging.getLogger("alert_webhook.silences")
MAX_MINUTES = 7 * 24 * 60  # a week: longer than that is a rule to change, not a silence


class SilenceOutcome(enum.Enum):
    SILENCED = "silenced"
    NO_INCIDENT = "no incident"
    CLOSED = "closed"
    ALERTMANAGER_FAILED = "Alertmanager failed"


@dataclass(frozen=True)
class SilenceResult:
    """What asking for a silence came to: the incident as it now stands (None when
    there is none) and, when Alertmanager failed, what it said."""

    outcome: SilenceOutcome
    incident: dict[str, Any] | None
    problem: str = ""


class IncidentSilences:
    def __init__(
        self, incidents: Incidents, api: AlertmanagerAPI, clock: Callable[[], float]
    ) -> None:
        self.incidents, self.api, self.clock = incidents, api, clock

    def silence(self, alert_id: int, minutes: int, by: str) -> SilenceResult:
        """Silence the incident's alert for `minutes`, in `by`'s name; a silence it
        already held is expired once the new one is recorded."""
        incident = self.incidents.find(alert_id)
        if incident is None:
            return SilenceResult(SilenceOutcome.NO_INCIDENT, None)
        if incident["closed_at"] is not None:
            return SilenceResult(SilenceOutcome.CLOSED, incident)
        now = self.clock()
        until = now + minutes * 60
        comment = (
            f"incident {alert_id} ({incident['alertname']}) silenced for {minutes} min "
            f"by {by} from the recovery-stack console"
        )
        try:
            silence_id = self.api.create_silence(
                matchers_for(incident["labels"]), now, until, comment, created_by=by
            )
        except AlertmanagerError as exc:
            problem = f"not silenced: Alertmanager at {self.api.base_url} failed: {exc}"
            logger.warning("incident %d: %s", alert_id, problem)
            return SilenceResult(SilenceOutcome.ALERTMANAGER_FAILED, incident, problem)
        held = self.incidents.record_silence(alert_id, silence_id, until, by)
        if held is None:  # closed between the look and the write
            self.expire(alert_id, silence_id)
            return SilenceResult(SilenceOutcome.CLOSED, self.incidents.find(alert_id))
        if incident["silence_id"] is not None and incident["silence_id"] != silence_id:
            self.expire(alert_id, incident["silence_id"])
        logger.info("incident %d silenced by %s until %.0f (%s)", alert_id, by, until, silence_id)
        return SilenceResult(SilenceOutcome.SILENCED, held)

    def expire(self, alert_id: int, silence_id: str) -> bool:
        """End the silence in Alertmanager now; False (logged) when Alertmanager
        failed, and the silence then ends at its own time."""
        try:
            self.api.expire_silence(silence_id)
        except AlertmanagerError as exc:
            logger.warning("incident %d: silence %s not expired: %s", alert_id, silence_id, exc)
            return False
        return True


def _is_instance(alert: HeldAlert, held: HeldSilence) -> bool:
    """Alertmanager's alert is the silenced incident's instance: the same labels,
    the same start (an instant: the store and Alertmanager write it differently,
    and Alertmanager's API only to the millisecond)."""
    started = to_millisecond(datetime.fromisoformat(held.starts_at))
    return alert.labels == held.labels and to_millisecond(alert.starts_at) == started


class SilenceWatch:
    """The duty: every `interval`, each held silence's alert is looked up in
    Alertmanager; one no longer firing there is recorded resolved and its
    silence expired. An Alertmanager that fails is logged and asked again next
    time; nothing is recorded from a failed answer."""

    def __init__(
        self,
        silences: IncidentSilences,
        accept: Accept,
        interval: float,
        clock: Callable[[], float],
    ) -> None:
        self.silences, self.accept, self.interval, self.clock = silences, accept, interval, clock
        self._next_check: float | None = None

    def __call__(self) -> None:
        now = self.clock()
        if self._next_check is not None and now < self._next_check:
            return
        self._next_check = now + self.interval
        for held in self.silences.incidents.held_silences(now):
            try:
                listed = self.silences.api.list_alerts(matchers_for(held.labels))
            except AlertmanagerError as exc:
                logger.warning("incident %d: its alert's state is unknown: %s", held.alert_id, exc)
                continue
            # Matchers match any alert carrying these labels, and more: only the
            # alert with exactly these labels is this one, and only while it is the
            # same instance: one that resolved and fired again meanwhile (hidden
            # from the webhook by the silence) starts at another time.
            if not any(_is_instance(alert, held) for alert in listed):
                self._resolved(held, now)

    def _resolved(self, held: HeldSilence, now: float) -> None:
        record_resolved(self.accept, "silence-watch", held, now)
        if self.silences.expire(held.alert_id, held.silence_id):
            self.silences.incidents.silence_expired(held.alert_id, held.silence_id, now)
        logger.warning(
            "incident %d: resolved in Alertmanager while silenced; silence %s ended",
            held.alert_id, held.silence_id,
        )  # fmt: skip
