"""restart_service's supervisor backend: supervisord's XML-RPC, stop then start.

supervisord has no restart call: the program is stopped if it runs, then
started with `wait`, so supervisord itself answers once the program has stayed
up for its `startsecs` (RUNNING) or has failed to (a fault). The whole exchange
lives within the action's timeout: every call gets the time that is left.
"""

from __future__ import annotations

import http.client
import os
import xmlrpc.client
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit
from xml.parsers.expat import ExpatError

from pydantic import field_validator, model_validator

from alert_webhook.remediation.actions.base import ActionOutcome, EnvVar
from alert_webhook.remediation.actions.unix_http import TimeoutTransport, UnixTransport
from toolkit.config import Strict

# supervisord's fault codes (supervisor.xmlrpc.Faults) this backend tells apart.
BAD_NAME = 10
ABNORMAL_TERMINATION = 40
SPAWN_ERROR = 50
ALREADY_STARTED = 60
NOT_RUNNING = 70

# States in which the program has a process to stop first.
_ALIVE = frozenset({"RUNNING", "STARTING", "BACKOFF"})


def check_url(url: str) -> None:
    """A ValueError unless `url` is where supervisord can listen: a unix socket by
    absolute path, or a host and port (it serves XML-RPC at /RPC2 only, so a path
    would be a mistake); never with credentials, which come from the environment."""
    if url.startswith("unix://") and os.path.isabs(url[len("unix://") :]):
        return
    parts = urlsplit(url)
    if (
        parts.scheme != "http"
        or not parts.hostname
        or parts.username
        or parts.password
        or parts.path not in ("", "/")
    ):
        raise ValueError("must be unix:///path or http://host:port, without credentials")


class _Rpc:
    """One XML-RPC call at a time on a fresh connection, each bounded by the time left."""

    def __init__(self, url: str, login: tuple[str, str] | None, left: Callable[[], float]) -> None:
        self._url, self._left = url, left
        # xmlrpc.client takes basic-auth credentials from the URL's user part.
        self._auth = (
            "" if login is None else f"{quote(login[0], safe='')}:{quote(login[1], safe='')}@"
        )

    def __call__(self, method: str, *args: Any) -> Any:
        if self._url.startswith("unix://"):
            transport: xmlrpc.client.Transport = UnixTransport(self._url[7:], self._left())
            endpoint = f"http://{self._auth}localhost/RPC2"
        else:
            transport = TimeoutTransport(self._left())
            endpoint = f"http://{self._auth}{urlsplit(self._url).netloc}/RPC2"
        with xmlrpc.client.ServerProxy(endpoint, transport=transport) as proxy:
            return getattr(proxy, method)(*args)


class SupervisorOptions(Strict):
    """Where supervisord's XML-RPC listens and which variables hold its login."""

    url: str | None = None  # unix:///path/supervisor.sock or http://host:port
    url_from_env: EnvVar | None = None
    username_from_env: EnvVar | None = None
    password_from_env: EnvVar | None = None

    @field_validator("url")
    @classmethod
    def _supervisor_url(cls, url: str | None) -> str | None:
        if url is not None:
            check_url(url)
        return url

    @model_validator(mode="after")
    def _complete(self) -> SupervisorOptions:
        if (self.url is None) == (self.url_from_env is None):
            raise ValueError("give exactly one of url and url_from_env")
        if (self.username_from_env is None) != (self.password_from_env is None):
            raise ValueError("username_from_env and password_from_env go together")
        return self


def restart(
    name: str, options: SupervisorOptions, left: Callable[[], float], env: Mapping[str, str]
) -> tuple[ActionOutcome, int | None, str, str]:
    """ActionOutcome, status (none: supervisord has no status code), output, detail."""
    url = options.url or env[options.url_from_env or ""]
    try:
        check_url(url)
    except ValueError as exc:
        return ActionOutcome.FAILED, None, "", f"{options.url_from_env}={url!r}: {exc}"
    login = None
    if options.username_from_env and options.password_from_env:
        login = (env[options.username_from_env], env[options.password_from_env])
    call = _Rpc(url, login, left)
    before = "unknown"
    try:
        before = call("supervisor.getProcessInfo", name)["statename"]
        if before in _ALIVE:
            _tolerating(NOT_RUNNING, call, "supervisor.stopProcess", name, True)
        _tolerating(ALREADY_STARTED, call, "supervisor.startProcess", name, True)
        info = call("supervisor.getProcessInfo", name)
    except TimeoutError:
        return (
            ActionOutcome.TIMED_OUT,
            None,
            f"{name}: {before}\n",
            "no answer from supervisord within the timeout",
        )
    except xmlrpc.client.Fault as fault:
        return ActionOutcome.FAILED, None, f"{name}: {before}\n", _fault_detail(name, fault)
    except xmlrpc.client.ProtocolError as exc:
        detail = f"supervisord answered HTTP status {exc.errcode} ({exc.errmsg})"
        if exc.errcode == 401:
            detail = "supervisord refused the credentials"
        return ActionOutcome.FAILED, None, "", detail
    except OSError as exc:
        return (
            ActionOutcome.FAILED,
            None,
            "",
            f"cannot reach supervisord at {url}: {exc.strerror or exc}",
        )
    except (http.client.HTTPException, xmlrpc.client.Error, ExpatError) as exc:
        # Not supervisord answering (a stray server on the socket, a cut reply).
        return ActionOutcome.FAILED, None, "", f"no XML-RPC answer from {url}: {type(exc).__name__}"
    after = info["statename"]
    output = f"{name}: {before} -> {after} (pid {info['pid']})\n"
    if after != "RUNNING":
        return ActionOutcome.FAILED, None, output, f"program {name} is {after} after the restart"
    return ActionOutcome.SUCCEEDED, None, output, ""


def _tolerating(code: int, call: _Rpc, method: str, *args: Any) -> None:
    """Make the call; the fault `code` means the wanted state already holds."""
    try:
        call(method, *args)
    except xmlrpc.client.Fault as fault:
        if fault.faultCode != code:
            raise


def _fault_detail(name: str, fault: xmlrpc.client.Fault) -> str:
    if fault.faultCode == BAD_NAME:
        return f"supervisord has no program {name}"
    if fault.faultCode in (SPAWN_ERROR, ABNORMAL_TERMINATION):
        return f"program {name} did not stay up: {fault.faultString}"
    return f"supervisord: {fault.faultString} (fault {fault.faultCode})"
