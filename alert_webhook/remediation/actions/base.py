"""What every remediation action shares: its parameter model, boundaries, result."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, ClassVar

import requests
from pydantic import StringConstraints

from alert_webhook.fleet.executor import Executor
from alert_webhook.fleet.inventory import Host
from toolkit.config import Strict

EnvVar = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]

# The safe alphabet of a label value in an argument or a URL: starts with a letter or
# digit (never an option like `-rf`), then letters, digits and `._:-` only — no
# space, quote, `;`, `$`, `/`, `?`, `#`, `%`, `@`, control character or NUL.
SAFE_WORD = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$"

# What is kept of a command's output or a response body: its end, where errors are.
OUTPUT_TAIL_BYTES = 4096


class ActionOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    # The fleet host could not be reached (SSH refused, timed out, wrong host key):
    # nothing was done there, and nothing more is tried on it.
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class ActionResult:
    """What one run of an action did. `status` is the exit status or HTTP status
    (None when there was none: not started, killed, no answer)."""

    outcome: ActionOutcome
    status: int | None
    output: str
    duration: float
    detail: str = ""


class ActionParams(Strict):
    """Base of every action's parameters.

    `label_patterns` lists the parameters that may hold `{labels.NAME}`, each with
    the pattern every label value reaching it must match; any other parameter takes
    no labels at all.
    """

    label_patterns: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def placeholder_problems(cls, params: Mapping[str, Any]) -> list[str]:
        """Where this action refuses labels inside a templatable parameter."""
        return []

    def env_names(self) -> list[str]:
        """Environment variables this action needs set to run (credentials)."""
        return []

    @classmethod
    def binds_host(cls, params: Mapping[str, Any]) -> bool:
        """Whether a step with these (unrendered) parameters acts on the fleet host
        the alert names: its run then resolves that host first (runner.py)."""
        return False


@dataclass(frozen=True)
class Boundaries:
    """Everything outside the process an action touches; tests pass their own.

    `env` is the webhook's environment as the factory read it: run_command passes
    on only the names a playbook allows, http_request reads named header secrets,
    restart_service reads supervisord's credentials. `host` and `executor` are
    set for a step that acts on a fleet host: the one inventory host resolved
    from the alert, and what reaches it (fleet/executor.py).
    """

    env: Mapping[str, str] = field(default_factory=dict)
    monotonic: Callable[[], float] = time.monotonic
    # Wall-clock "now", for ages measured against file modification times.
    now: Callable[[], float] = time.time
    http: requests.Session = field(default_factory=requests.Session)
    popen: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen
    killpg: Callable[[int, int], None] = os.killpg
    host: Host | None = None
    executor: Executor | None = None


Run = Callable[[Any, float, Boundaries], ActionResult]


@dataclass(frozen=True)
class Action:
    """One registered action: its name in playbooks, its parameters, its entry point
    `run(params, timeout_seconds, boundaries)`."""

    name: str
    params: type[ActionParams]
    run: Run


def tail(data: bytes, limit: int = OUTPUT_TAIL_BYTES) -> str:
    """The last `limit` bytes as text (a cut character becomes U+FFFD)."""
    return data[-limit:].decode("utf-8", "replace")
