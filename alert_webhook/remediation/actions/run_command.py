"""run_command: a program with an argument list — never a shell.

The program is an absolute path written in the playbook; labels may reach the
arguments after it, checked word by word. The child starts in its own session
with only the allowed environment variables and no input; on timeout the whole
process group is killed, so nothing it started lives on. The end of its output
(stdout and stderr together) and its exit status are kept.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from typing import IO, Any, ClassVar

from pydantic import Field, field_validator

from alert_webhook.remediation.actions.base import (
    OUTPUT_TAIL_BYTES,
    SAFE_WORD,
    Action,
    ActionOutcome,
    ActionParams,
    ActionResult,
    Boundaries,
    EnvVar,
    tail,
)
from alert_webhook.remediation.templates import PLACEHOLDER

# How long to wait for the output pipe to close once the command ended: a daemon it
# started (or a descendant that left its group) may hold it open, and the run must
# still end.
_DRAIN_SECONDS = 2.0


class RunCommandParams(ActionParams):
    argv: list[str] = Field(min_length=1)
    # Names of the webhook's environment variables the command may see; no others.
    env: list[EnvVar] = Field(default_factory=list)
    cwd: str | None = None
    # 0 counts as success unless listed otherwise.
    success_exit_codes: list[int] = Field(default_factory=lambda: [0])

    label_patterns: ClassVar[dict[str, str]] = {"argv": SAFE_WORD}

    @field_validator("argv")
    @classmethod
    def _absolute_program(cls, argv: list[str]) -> list[str]:
        # The playbook names the program itself; PATH never chooses it.
        if not os.path.isabs(argv[0]):
            raise ValueError("the program (argv[0]) must be an absolute path")
        return argv

    @classmethod
    def placeholder_problems(cls, params: Mapping[str, Any]) -> list[str]:
        argv = params.get("argv")
        first = argv[0] if isinstance(argv, list) and argv else None
        if isinstance(first, str) and PLACEHOLDER.search(first):
            return ["argv[0]: the program cannot come from a label"]
        return []


def _read_tail(stream: IO[bytes], keep: bytearray, limit: int) -> None:
    """Read until EOF, keeping only the last `limit` bytes (a chatty command cannot
    fill the webhook's memory)."""
    while chunk := stream.read(65536):
        keep += chunk
        if len(keep) > limit:
            del keep[: len(keep) - limit]


def _kill_group(proc: subprocess.Popen[bytes], killpg: Callable[[int, int], None]) -> None:
    # Its own session made the child its group's leader: the group id is its pid.
    with contextlib.suppress(ProcessLookupError):
        killpg(proc.pid, signal.SIGKILL)


def _exit_detail(status: int) -> str:
    # Popen reports a death by signal N as -N.
    return f"killed by signal {-status}" if status < 0 else f"exit status {status}"


def run(params: RunCommandParams, timeout: float, ctx: Boundaries) -> ActionResult:
    started = ctx.monotonic()
    env = {name: ctx.env[name] for name in params.env if name in ctx.env}
    try:
        proc = ctx.popen(
            params.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=params.cwd,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        detail = f"cannot start {params.argv[0]}: {exc.strerror or exc}"
        return ActionResult(ActionOutcome.FAILED, None, "", ctx.monotonic() - started, detail)
    output = bytearray()
    assert proc.stdout is not None
    reader = threading.Thread(
        target=_read_tail, args=(proc.stdout, output, OUTPUT_TAIL_BYTES), daemon=True
    )
    reader.start()
    try:
        exit_status = proc.wait(timeout=timeout)
        ok = exit_status in params.success_exit_codes
        status: int | None = exit_status
        outcome = ActionOutcome.SUCCEEDED if ok else ActionOutcome.FAILED
        detail = "" if ok else _exit_detail(exit_status)
    except subprocess.TimeoutExpired:
        _kill_group(proc, ctx.killpg)
        proc.wait()
        status, outcome = None, ActionOutcome.TIMED_OUT
        detail = f"still running after {timeout:g}s; its process group was killed"
    # A command that exited may leave a daemon it started on purpose (a restart
    # script): only a timeout kills the group. The output is what arrived by now.
    reader.join(_DRAIN_SECONDS)
    if not reader.is_alive():
        proc.stdout.close()
    duration = ctx.monotonic() - started
    return ActionResult(outcome, status, tail(bytes(output)), duration, detail)


ACTION = Action("run_command", RunCommandParams, run)
