"""Start real processes on free loopback ports and always stop them.

Integration tests use `running(...)` as a context manager (or through a fixture),
so a failing assertion still stops every process the test started.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import requests

from stack import binaries

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, and not one
    this process was given before: the kernel may hand the same free port to two
    calls in a row, and a stack given it twice refuses to start."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def find_binary(env_var: str) -> str:
    """The path of a binary from its environment variable or PATH (stack.binaries)."""
    return binaries.find_binary(env_var, os.environ)


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    interval: float = 0.05,
) -> None:
    """Poll `check` until it is true; raise naming `what` after `timeout` seconds.

    Only for waiting on real processes; unit tests drive a fake clock instead.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        return requests.get(url, timeout=1).status_code < 500

    return check


class Process:
    """A started child process with its log file; stop() is idempotent."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log_path: Path) -> None:
        self.name = name
        self.popen = popen
        self.log_path = log_path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 10) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=timeout)


@contextlib.contextmanager
def running(
    name: str,
    argv: Sequence[str],
    log_dir: Path,
    ready_url: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 30,
) -> Iterator[Process]:
    """Run `argv` until the block ends; wait for `ready_url` to answer first.

    On a start-up failure the error carries the process's own log.
    """
    log_path = log_dir / f"{name}.log"
    full_env = {**os.environ, **(env or {})}
    with open(log_path, "wb") as log_file:
        popen = subprocess.Popen(
            list(argv), stdout=log_file, stderr=subprocess.STDOUT, env=full_env, cwd=cwd
        )
    proc = Process(name, popen, log_path)
    try:
        if ready_url:
            try:
                wait_until(
                    lambda: proc.alive() and http_ok(ready_url)(), timeout, f"{name} at {ready_url}"
                )
            except TimeoutError as exc:
                raise RuntimeError(
                    f"{name} did not start: {exc}\n--- log ---\n{proc.log()}"
                ) from exc
        yield proc
    finally:
        proc.stop()


def python_module(module: str, *args: str) -> list[str]:
    """argv to run one of our modules with the test's own interpreter."""
    return [sys.executable, "-m", module, *args]
