"""The running stack a drill acts on, found as `make up` left it: the ports from
the same variables, the webhook's bearer token from var/run/webhook-token, and
supervisord's login from var/run/supervisord.conf. The webhook's JSON API is
how a drill reads runs and records results: the store is the webhook's."""

from __future__ import annotations

import configparser
import contextlib
import os
import signal
import xmlrpc.client
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from supervisor.xmlrpc import SupervisorTransport

from stack.backups.restore import stack_running
from stack.ports import HOST, ports_from_env
from stack.supervisor import Layout


class NoStack(Exception):
    """No stack to drill, and what to do about it, in one line."""


@dataclass(frozen=True)
class LiveStack:
    root: Path
    ports: dict[str, int]
    token: str
    session: Any = requests

    def url(self, service: str, path: str = "") -> str:
        return f"http://{HOST}:{self.ports[service]}{path}"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **params: Any) -> Any:
        response = self.session.get(
            self.url("webhook", path), params=params, headers=self._auth(), timeout=10
        )
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: Any) -> Any:
        response = self.session.post(
            self.url("webhook", path), json=body, headers=self._auth(), timeout=30
        )
        if not response.ok:
            raise requests.HTTPError(f"{response.status_code} {response.text[:500]}")
        return response.json()

    def answers(self, service: str, path: str = "/healthz") -> bool:
        with contextlib.suppress(requests.RequestException):
            return bool(self.session.get(self.url(service, path), timeout=2).ok)
        return False

    def _supervisor(self) -> xmlrpc.client.ServerProxy:
        conf = configparser.ConfigParser(interpolation=None)
        conf.read(Layout(self.root).conf)
        login = conf["supervisorctl"]
        transport = SupervisorTransport(login["username"], login["password"], login["serverurl"])
        return xmlrpc.client.ServerProxy(f"http://{HOST}", transport=transport)

    def pid(self, program: str) -> int | None:
        """The pid of `program` while supervisord has it RUNNING."""
        with self._supervisor() as proxy:
            info: Any = proxy.supervisor.getProcessInfo(program)
        return int(info["pid"]) if info["statename"] == "RUNNING" and info["pid"] else None

    def start(self, program: str) -> None:
        """Start `program` through supervisord (the drill's safety net)."""
        with self._supervisor() as proxy, contextlib.suppress(xmlrpc.client.Fault):
            proxy.supervisor.startProcess(program)

    def kill(self, program: str) -> int:
        """kill -9 `program`'s process group, as a crash would take it; the pid."""
        pid = self.pid(program)
        if pid is None:
            raise RuntimeError(f"{program} is not running")
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
        return pid


def find_live(root: Path, env: Mapping[str, str]) -> LiveStack:
    """The stack `make up` runs from `root`; NoStack, in one line, when none does."""
    layout = Layout(root)
    start = f"start it with `make up` (from {root}, in another terminal), then run this again"
    token_file = layout.run / "webhook-token"
    if not stack_running(layout.run / "stack.lock") or not token_file.is_file():
        raise NoStack(f"no stack is running from {root}: {start}")
    live = LiveStack(root, ports_from_env(env), token_file.read_text().strip())
    if not live.answers("webhook", "/readyz"):
        raise NoStack(
            f"the stack running from {root} has no webhook answering at {live.url('webhook')} "
            f"(WEBHOOK_PORT moves it; give the same port variables as `make up`): {start}"
        )
    return live
