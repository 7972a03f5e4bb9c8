"""stack.guard, what `make up` becomes once up: it waits on signals, never polls,
and tells a Ctrl-C (exit 0) from supervisord's own end (exit 1). Fakes stand in
for the kernel's waitpid, sigtimedwait and kill."""

from __future__ import annotations

import json
import signal
from types import SimpleNamespace

import pytest

from stack import guard

SUPERVISORD = 4242


class Kernel:
    """Signals delivered in order (0: a wait that timed out); supervisord ends
    when `ends_after` waits are done or when it is sent SIGTERM."""

    def __init__(self, signals: list[int], ends_after: int | None = None) -> None:
        self.signals = signals
        self.ends_after = ends_after
        self.waits = 0
        self.alive = True
        self.sent: list[tuple[int, int]] = []

    def waitpid(self, pid: int, _options: int) -> tuple[int, int]:
        assert pid == SUPERVISORD
        if self.ends_after is not None and self.waits >= self.ends_after:
            self.alive = False
        return (pid, 0) if not self.alive else (0, 0)

    def sigtimedwait(self, wanted: set[int], timeout: float) -> object:
        assert set(wanted) == {signal.SIGINT, signal.SIGTERM, signal.SIGCHLD}
        assert timeout >= 10, "a wait, not a poll"
        self.waits += 1
        signo = self.signals.pop(0) if self.signals else 0
        return SimpleNamespace(si_signo=signo) if signo else None  # 0: the timeout

    def kill(self, pid: int, signum: int) -> None:
        self.sent.append((pid, signum))
        self.alive = False


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> Kernel:
    fake = Kernel([])
    monkeypatch.setattr(guard.os, "waitpid", fake.waitpid)
    monkeypatch.setattr(guard.os, "kill", fake.kill)
    monkeypatch.setattr(guard.signal, "sigtimedwait", fake.sigtimedwait)
    monkeypatch.setattr(guard.signal, "pthread_sigmask", lambda *_: set())
    return fake


def test_ctrl_c_stops_supervisord_and_exits_zero(kernel: Kernel, capsys) -> None:
    # Another child's end (SIGCHLD) and a quiet minute do not end the wait.
    kernel.signals = [signal.SIGCHLD, 0, signal.SIGINT]
    assert guard.main([json.dumps({"supervisord": SUPERVISORD})]) == 0
    assert kernel.sent == [(SUPERVISORD, signal.SIGTERM)]
    assert capsys.readouterr().out == "stopping the stack ...\nstopped.\n"


def test_supervisord_ending_by_itself_is_said_and_exits_one(kernel: Kernel, capsys) -> None:
    kernel.signals, kernel.ends_after = [signal.SIGCHLD], 1
    assert guard.main([json.dumps({"supervisord": SUPERVISORD})]) == 1
    assert kernel.sent == [], "nothing left to stop"
    assert "supervisord exited; the stack is down" in capsys.readouterr().err


def test_a_signal_pending_before_the_wait_is_taken_at_once(kernel: Kernel) -> None:
    kernel.signals = [signal.SIGTERM]
    assert guard.wait_for_stop(SUPERVISORD) is True
    assert kernel.waits == 1
