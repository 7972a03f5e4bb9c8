"""What `make up` becomes once the stack is up: a small process that waits for
Ctrl-C (or supervisord's end) and then stops everything.

`python -m stack up` renders, starts and checks the stack with the renderer's
world imported (the webhook's settings, the remediation playbooks, the probe
checks: ~78 MiB resident); once every page answers it replaces itself
(`os.execv`, same pid, same children, same lock file) with this module, which
imports nothing but the standard library's basics (~11 MiB; psutil only when
demo hosts are to be stopped). The launcher blocks SIGINT, SIGTERM and SIGCHLD
before the hand-over, so a Ctrl-C pressed meanwhile waits here, pending, and is
never lost; this process keeps them blocked and takes them with sigtimedwait, so
a second Ctrl-C during the stop changes nothing.

Its one argument is the plan as JSON: `supervisord` (the stack's supervisord pid,
a child of this process) and `fleet` (the demo hosts' sshd and supervisord pids,
in the order they started; stopped last first, each with what it started).
Exit status: 0 when stopped by a signal, 1 when supervisord exited by itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable

STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})
WAITED = STOP_SIGNALS | {signal.SIGCHLD}
SUPERVISORD_STOP_TIMEOUT = 30.0  # as stack.up.stop_process
HOST_STOP_TIMEOUT = 15.0  # as stack.demo_hosts.stop_tree
# A belt to the SIGCHLD braces: how often the wait looks at supervisord anyway.
RECHECK_SECONDS = 60.0


def exited(pid: int) -> bool:
    """Whether our child `pid` has ended (reaped now, or already gone)."""
    try:
        done, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid


def wait_for_stop(supervisord: int) -> bool:
    """Block until a stop signal (True) or supervisord's end (False)."""
    while not exited(supervisord):
        info = signal.sigtimedwait(WAITED, RECHECK_SECONDS)
        if info is not None and info.si_signo in STOP_SIGNALS:
            return True
    return False


def stop_pid(pid: int, timeout: float = SUPERVISORD_STOP_TIMEOUT) -> None:
    """SIGTERM our child `pid`, then SIGKILL it if it has not ended within `timeout`."""
    if exited(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if exited(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, ChildProcessError):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def stop_family(pid: int, stop: Callable[[], None]) -> None:
    """Stop the process `pid` with `stop`, then every process it had started that
    is still running (a demo host's sshd sessions, its supervisord's programs if it
    could not stop them itself): SIGTERM, and SIGKILL after 5 s."""
    import psutil  # only a fleet needs it: ~6 MiB the plain stack does not keep

    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    stop()
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _gone, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()


def stop_tree(pid: int, timeout: float = HOST_STOP_TIMEOUT) -> None:
    """Stop our child `pid` and every process it started."""
    stop_family(pid, lambda: stop_pid(pid, timeout))


def main(argv: list[str] | None = None) -> int:
    signal.pthread_sigmask(signal.SIG_BLOCK, WAITED)  # already blocked by the launcher
    plan = json.loads((sys.argv[1:] if argv is None else argv)[0])
    supervisord, fleet = int(plan["supervisord"]), [int(p) for p in plan.get("fleet", [])]
    by_signal = wait_for_stop(supervisord)
    if not by_signal:
        print("supervisord exited; the stack is down", file=sys.stderr, flush=True)
    print("stopping the stack ...", flush=True)
    stop_pid(supervisord)
    print("stopped.", flush=True)
    if fleet:
        print("stopping the demo hosts ...", flush=True)
    for pid in reversed(fleet):
        stop_tree(pid)
    return 0 if by_signal else 1


if __name__ == "__main__":
    sys.exit(main())
