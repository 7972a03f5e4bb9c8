"""Silencing the alert in Alertmanager while a run acts on it.

A playbook with `silence_for` gets, just before its first step acts, a silence
of exactly its alert (equality matchers on the alert's labels) for at most that
long, so Alertmanager's repeats do not page people mid-fix; the silence is
expired when the run ends, whatever the outcome. The window bounds it if
nothing expires it (a runner killed between creating it and recording it).

Silencing is a courtesy to people, never a condition of the fix: when
Alertmanager is unreachable or refuses, the run acts all the same and the run's
`silence_note` (and the log) says why there is no silence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from alert_webhook.clients.alertmanager import (
    AlertmanagerAPI,
    AlertmanagerError,
    matchers_for,
    rfc3339,
)
from alert_webhook.remediation.playbooks import Playbook
from alert_webhook.remediation.runs import RunJob, RunStore

logger = logging.getLogger("alert_webhook.remediation")


class Silencing:
    def __init__(
        self, runs: RunStore, api: AlertmanagerAPI | None, clock: Callable[[], float]
    ) -> None:
        self.runs, self.api, self.clock = runs, api, clock

    def hold(self, job: RunJob, book: Playbook) -> RunJob:
        """Silence the run's alert if its playbook asks; the job with the silence's
        id, which is recorded on the run before any step acts."""
        if book.silence_for is None:
            return job
        now = self.clock()
        until = now + book.silence_for
        comment = f"remediation run {job.id} ({job.playbook}) is acting on {job.target}"
        try:
            if self.api is None:
                raise AlertmanagerError("no Alertmanager to silence in")
            silence_id = self.api.create_silence(matchers_for(job.labels), now, until, comment)
        except AlertmanagerError as exc:
            note = f"not silenced: {exc}"
            logger.warning("remediation run %d (%s): %s", job.id, job.playbook, note)
            self.runs.record_silence(job, None, note)
            return job
        held = replace(job, silence_id=silence_id)
        if not self.runs.record_silence(job, silence_id, f"silenced until {rfc3339(until)}"):
            self.release(held)  # our lease is gone: nothing will act under this silence
            return job
        return held

    def release(self, job: RunJob) -> None:
        """Expire the run's silence, once the run has ended."""
        if job.silence_id is None:
            return
        try:
            if self.api is None:
                raise AlertmanagerError("no Alertmanager to expire it in")
            self.api.expire_silence(job.silence_id)
        except AlertmanagerError as exc:
            note = f"silence {job.silence_id} not expired: {exc}; it ends at its window's end"
            logger.warning("remediation run %d (%s): %s", job.id, job.playbook, note)
        else:
            note = f"silence {job.silence_id} expired when the run ended"
        self.runs.note_silence(job.id, note)
