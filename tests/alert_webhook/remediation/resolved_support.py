"""What the resolution tests share: an action that acts in memory (no process
is started, so these are unit tests), which can record something while it
runs — the alert resolving mid-action — and alerts of one target with a fixed
start, so a resolution names the same alert as its firing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runs_support import book
from webhook_support import make_alert

from alert_webhook.remediation.actions.base import (
    Action,
    ActionOutcome,
    ActionParams,
    ActionResult,
    Boundaries,
)

STARTS = "2026-11-28T09:00:00Z"


class Word(ActionParams):
    word: str


class Notes:
    """The `note` action: remembers each word it ran with; a word in `failing`
    fails; `during` runs once, inside the next action."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.failing: set[str] = set()
        self.during: Callable[[], object] | None = None
        self.actions = {"note": Action("note", Word, self.run)}

    def run(self, params: Any, timeout: float, boundaries: Boundaries) -> ActionResult:
        self.ran.append(params.word)
        if self.during is not None:
            hook, self.during = self.during, None
            hook()
        if params.word in self.failing:
            return ActionResult(ActionOutcome.FAILED, 1, "", 0.1, f"{params.word} failed")
        return ActionResult(ActionOutcome.SUCCEEDED, 0, f"{params.word} done", 0.1)


def noting(*words: str, **kw: Any) -> dict[str, Any]:
    """The DemoDown playbook, one `note` step per word."""
    steps = [{"action": "note", "params": {"word": w}} for w in words]
    return book("DemoDown", *steps, **kw)


def demo_alert(status: str = "firing", fingerprint: str = "a", **labels: str) -> dict[str, Any]:
    return make_alert(
        fingerprint, status=status, alertname="DemoDown", starts_at=STARTS,
        **{"service": "demo", **labels},
    )  # fmt: skip
