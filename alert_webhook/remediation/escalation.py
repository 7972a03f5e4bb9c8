"""What people hear when a remediation run ends: the `Tell` the run store calls
in the run's final transaction (`RunStore.finish` in `runs.py`), so every
ending — by the runner, an interrupted run, or any ending added later — is told
the same way.

- verified: when the notification was sent, nothing more (people were told; the
  resolution follows); when it was held, it is dropped and one "recovered
  automatically" note goes to the dashboard and the log;
- failed, ineffective, blocked: when it was sent, an escalation on the alert's
  own channels (critical: SMS, as routed); when held, it is sent now, carrying
  the attempt history;
- skipped (a dry run): nothing more; a held notification is sent now, saying
  that nothing ran;
- cancelled (its alert resolved first): one short note on the dashboard and in
  the log, never a page — the problem is gone, and people who were told of the
  alert hear its resolution anyway; a held notification is dropped with it.

A guardrail's block is said once per playbook and reason within a window
(`BlockedNotices`, `remediation.blocked_window_seconds`, 5 min): in an alert
storm one playbook is blocked for thousands of alerts at once (cooldown, blast
radius), and a message per blocked run drowned people — and the webhook — in
copies of one fact. The first block of a window escalates as above and says
that more are only recorded; the rest tell nobody (each is still a blocked run
in the store, with its reason, on the console and in the reports); the first
of a later window says it again with how many were not said. A refused label
value or an alert naming no inventory host is a fault of that alert: each is
said. Failures and ineffective runs are each told. The window is kept in this
process: each replica says it once.

A verified ending also hands the store the recurring-heals limit
(`recurring.py`): a target healed too often pages once per window.

An alert that resolved before its run ended pages nobody: its held notification
(and its held resolution) is dropped, and the dashboard and the log get the
history instead — there is nothing left for a person to fix, and the record
stays.

The text is one line — it goes into SMS, subjects and log lines as it is — naming
the playbook, the target, each step's action, outcome, exit status, output tail
and what its check found. Output and labels come from outside: control
characters become spaces (`text.one_line`) and each tail is cut short.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from alert_webhook.delivery.routing import Router, Target
from alert_webhook.delivery.rows import NewDelivery, telling
from alert_webhook.remediation.recurring import RecurringHeals
from alert_webhook.remediation.run_notices import Ended, Telling
from alert_webhook.remediation.states import RunStatus, StepRecord
from alert_webhook.text import one_line
from alert_webhook.times import duration

# Where a quiet note goes: the record people look at, not anyone's phone.
NOTE_TARGETS = (Target("dashboard"), Target("log"))
TAIL_CHARS = 120  # of each step's output
NOTE_CHARS = 1500  # of the whole text

_HEADS = {
    RunStatus.VERIFIED: "recovered automatically",
    RunStatus.INEFFECTIVE: "ran, but did not fix it",
    RunStatus.FAILED: "failed",
    RunStatus.SKIPPED: "dry run: nothing ran",
    RunStatus.CANCELLED: "cancelled (resolved)",
}


def _tail(output: str | None) -> str:
    text = one_line(output or "").strip()
    return text if len(text) <= TAIL_CHARS else "…" + text[-TAIL_CHARS:]


def step_line(step: StepRecord) -> str:
    """One step as tried: `step 0 restart_service: succeeded, exit 0, output '…'`."""
    parts = [step.status.value]
    if step.exit_status is not None:
        parts.append(f"exit {step.exit_status}")
    if tail := _tail(step.output):
        parts.append(f"output {tail!r}")
    if step.detail:
        parts.append(step.detail)
    return f"step {step.step} {step.action}: {', '.join(parts)}"


def history(ended: Ended) -> str:
    """The whole attempt on one line, for a message or a note."""
    if ended.status is RunStatus.BLOCKED:
        head = f"no action ({ended.guardrail}): {ended.detail}"
    else:
        head = _HEADS[ended.status] + (f": {ended.detail}" if ended.detail else "")
    tried = "; ".join(step_line(s) for s in ended.steps if s.status.value != "skipped")
    text = one_line(f"remediation {ended.playbook} on {ended.target} {head}")
    text += f". Tried: {one_line(tried)}" if tried else ""
    return text if len(text) <= NOTE_CHARS else text[: NOTE_CHARS - 1] + "…"


# Blocks that say something wrong with the alert itself (a refused label value, an
# alert naming no inventory host: runner.py's LABELS_GUARDRAIL, FLEET_GUARDRAIL):
# each is its own fault for a person to fix, so each is said.
EACH_SAID = frozenset({"labels", "fleet_host"})


class BlockedNotices:
    """Which blocked runs are said: the first of each (playbook, guardrail, people
    told) in a window of `window` seconds (0: every one), and every block in
    `EACH_SAID`. The people told are part of the key, so a high alert's block said
    by email never silences a critical one's SMS. Shared by the runner's threads."""

    def __init__(self, window: float = 300.0) -> None:
        self.window = window
        self._lock = threading.Lock()
        # (playbook, guardrail, targets) -> (when its window opened, blocks not said since)
        self._open: dict[tuple[str, str, frozenset[Target]], tuple[float, int]] = {}

    def say(self, ended: Ended, targets: Sequence[Target], now: float) -> str | None:
        """What to add to this block's escalation, or None: not said."""
        if self.window <= 0 or ended.guardrail in EACH_SAID:
            return ""
        key = (ended.playbook, ended.guardrail or "", frozenset(targets))
        with self._lock:
            opened, unsaid = self._open.get(key, (None, 0))
            if opened is not None and now < opened + self.window:
                self._open[key] = (opened, unsaid + 1)
                return None
            self._open[key] = (now, 0)
        what = f"runs of {ended.playbook} blocked by {ended.guardrail}"
        since = f" ({unsaid} more {what} since {_at(opened)} were recorded, not sent)"
        later = f". Further {what} in the next {duration(self.window)} are recorded, not sent."
        return (since if unsaid else "") + later


def _at(moment: float | None) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(moment or 0.0))


def _with(text: str, said: str) -> str:
    """The block's text with what the window adds, kept whole within NOTE_CHARS."""
    if not said:
        return text
    room = NOTE_CHARS - len(said)
    return (text if len(text) <= room else text[: room - 1] + "…") + said


@dataclass(frozen=True)
class Escalation:
    """The `Tell` the runner hands the store: routing as the alert's own
    notification, and the channels whose transport is the store."""

    router: Router
    stored_channels: frozenset[str]
    heals: RecurringHeals | None = None  # None: a target healed often pages nobody
    blocked: BlockedNotices = field(default_factory=BlockedNotices)

    def __call__(self, ended: Ended, now: float) -> Telling:
        text = history(ended)
        told = ended.status.escalates or ended.status is RunStatus.SKIPPED
        quiet = ended.resolved or ended.status in (RunStatus.VERIFIED, RunStatus.CANCELLED)
        if ended.held and quiet:
            return self._telling(self._to(ended, NOTE_TARGETS, text, now), settle=text)
        if ended.status is RunStatus.CANCELLED:
            return self._telling(self._to(ended, NOTE_TARGETS, text, now))
        if ended.held and told:
            return self._telling((), release=text)
        if ended.status.escalates:
            quiet = ended.resolved  # nothing left for a person to do
            targets = NOTE_TARGETS if quiet else self.router.targets(ended.labels)
            if ended.status is RunStatus.BLOCKED:
                said = self.blocked.say(ended, targets, now)
                if said is None:
                    return Telling()
                text = _with(text, said)
            return self._telling(self._to(ended, targets, text, now))
        if ended.status is RunStatus.VERIFIED:
            return Telling(heals=self.heals)
        return Telling()

    def _telling(
        self, rows: Sequence[NewDelivery], release: str | None = None, settle: str | None = None
    ) -> Telling:
        return Telling(rows, release, settle, self.stored_channels, self.heals)

    def _to(
        self, ended: Ended, targets: Sequence[Target], text: str, now: float
    ) -> list[NewDelivery]:
        """The run's own deliveries (`remediation-<run>`) on these targets."""
        return telling(
            ended.alert_id, ended.event_id, targets, self.stored_channels, ended.purpose, text, now
        )
