"""The `failover:` section of the webhook's settings: each service's chain of
backends, how to switch between them, and when to switch back.

Both the `failover` action (which only names the service) and the switch-back
duty read this one definition, so a playbook can never point a service at a
backend the operator did not list. Backend names and addresses are written
here, never taken from a label; they fill the mechanism's `{backend}` and
`{address}` placeholders.

```yaml
failover:
  services:
    orders-db:
      backends:                       # primary first, then secondary, tertiary …
        - name: db-a
          address: 10.0.0.11:5432
          health: {url: "http://10.0.0.11:8008/health", timeout: 2s}
        - name: db-b
          address: 10.0.0.12:5432
          health: {url: "http://10.0.0.12:8008/health"}
      http: {method: PUT, url: "http://127.0.0.1:8404/pools/orders/active/{backend}"}
      switch_back_after: 5m
```
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationError, field_validator, model_validator

from alert_webhook.remediation.actions.base import SAFE_WORD, EnvVar
from alert_webhook.remediation.actions.contained import (
    absolute_clean,
    clean_roots,
    strictly_under,
    under,
)
from alert_webhook.remediation.actions.http_request import HttpRequestParams
from alert_webhook.remediation.actions.restart_service import CommandOptions
from toolkit.config import Duration, Strict, validation_problems

# What a service's name may be: the same as a label value naming a service may be
# (restart_service's SERVICE_WORD), so `{labels.service}` can select one.
SERVICE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
BackendName = Annotated[str, StringConstraints(pattern=SAFE_WORD)]
ServiceName = Annotated[str, StringConstraints(pattern=SERVICE_NAME)]
# The placeholders a mechanism may hold; each is replaced by the chosen backend's.
PLACEHOLDERS = ("{backend}", "{address}")


class HealthCheck(Strict):
    """Healthy: the URL answers 2xx within the timeout (redirects not followed)."""

    url: str
    timeout: Duration = 2.0

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        # The same rules as http_request's URL: http(s), a host, no credentials.
        return str(HttpRequestParams._http_url(url))


class Backend(Strict):
    name: BackendName
    # Fills `{address}` in the mechanism (host:port, a pool member's id …).
    address: Annotated[str, StringConstraints(pattern=SAFE_WORD)] | None = None
    # Where the symlink points while this backend is active (symlink mechanism only).
    path: str | None = None
    health: HealthCheck

    @field_validator("path")
    @classmethod
    def _clean_path(cls, path: str | None) -> str | None:
        return None if path is None else absolute_clean(path)


class HttpMechanism(Strict):
    """One HTTP call per switch, like http_request; `{backend}` / `{address}` in the
    URL, headers from the environment."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    headers_from_env: dict[str, EnvVar] = Field(default_factory=dict)
    json_body: Any = None
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] | None = None


class CommandMechanism(CommandOptions):
    """A program run with an argument list (never a shell), as restart_service's
    command backend runs one. `{backend}` or `{address}` in an argument is
    replaced; without either, the backend's name is appended as the last argument."""

    @field_validator("argv")
    @classmethod
    def _fixed_program(cls, argv: list[str]) -> list[str]:
        if any(p in argv[0] for p in PLACEHOLDERS):
            raise ValueError("the program (argv[0]) cannot depend on the backend")
        return argv


class SymlinkMechanism(Strict):
    """Point `link` at the active backend's `path`: a new link beside it, then an
    atomic rename over the old one. The link and every path under `roots`."""

    link: str
    roots: list[str] = Field(min_length=1)

    _clean_link = field_validator("link")(absolute_clean)

    _clean_roots = field_validator("roots")(clean_roots)

    @model_validator(mode="after")
    def _link_under_roots(self) -> SymlinkMechanism:
        if not strictly_under(self.link, self.roots):
            raise ValueError(f"link {self.link!r} must be below one of the roots")
        return self


Mechanism = Literal["http", "command", "symlink"]


class ServiceFailover(Strict):
    # Primary first; at least a primary and one to fail over to.
    backends: list[Backend] = Field(min_length=2)
    # Exactly one mechanism section.
    http: HttpMechanism | None = None
    command: CommandMechanism | None = None
    symlink: SymlinkMechanism | None = None
    # Back to the primary once it has been healthy this long without a break;
    # none: only a person (or a playbook) switches back.
    switch_back_after: Duration | None = None
    # How often the switch-back duty checks the primary's health, and how long
    # its switch back may take.
    check_interval: Duration = 10.0
    switch_timeout: Duration = 30.0

    @property
    def mechanism(self) -> Mechanism:
        return next(m for m in ("http", "command", "symlink") if getattr(self, m) is not None)

    @property
    def primary(self) -> Backend:
        return self.backends[0]

    def backend(self, name: str) -> Backend | None:
        return next((b for b in self.backends if b.name == name), None)

    @model_validator(mode="after")
    def _consistent(self) -> ServiceFailover:
        problems = _mechanism_problems(self)
        names = [b.name for b in self.backends]
        twice = sorted(n for n in set(names) if names.count(n) > 1)
        problems += [f"backend {n!r} is listed twice" for n in twice]
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _mechanism_problems(service: ServiceFailover) -> list[str]:
    given = [m for m in ("http", "command", "symlink") if getattr(service, m) is not None]
    if len(given) != 1:
        return ["give exactly one mechanism: http, command or symlink"]
    problems = []
    for backend in service.backends:
        if service.http is not None:
            problems += _http_problems(service.http, backend)
        if service.symlink is not None:
            problems += _symlink_problems(service.symlink, backend)
        if "{address}" in _mechanism_text(service) and backend.address is None:
            problems.append(f"backend {backend.name!r}: the mechanism uses {{address}}; give one")
    return problems


def _mechanism_text(service: ServiceFailover) -> str:
    if service.http is not None:
        return service.http.url
    if service.command is not None:
        return " ".join(service.command.argv)
    return ""


def _http_problems(http: HttpMechanism, backend: Backend) -> list[str]:
    try:
        http_params(http, backend)
    except ValidationError as exc:
        return [f"backend {backend.name!r}: http.{p}" for p in validation_problems(exc)]
    return []


def _symlink_problems(symlink: SymlinkMechanism, backend: Backend) -> list[str]:
    if backend.path is None:
        return [f"backend {backend.name!r}: the symlink mechanism needs its path"]
    if not under(backend.path, symlink.roots):
        return [f"backend {backend.name!r}: path {backend.path!r} is not under the roots"]
    return []


def fill(text: str, backend: Backend) -> str:
    """`text` with the backend's name and address in its placeholders."""
    return text.replace("{backend}", backend.name).replace("{address}", backend.address or "")


def http_params(http: HttpMechanism, backend: Backend) -> HttpRequestParams:
    """The HTTP call that makes `backend` active."""
    return HttpRequestParams.model_validate(
        {**http.model_dump(exclude={"url"}), "url": fill(http.url, backend)}
    )


def command_argv(command: CommandMechanism, backend: Backend) -> list[str]:
    """The argument list that makes `backend` active."""
    if any(p in arg for arg in command.argv for p in PLACEHOLDERS):
        return [fill(arg, backend) for arg in command.argv]
    return [*command.argv, backend.name]


class FailoverSettings(Strict):
    """Service name → its failover chain; empty: the failover action fails, naming
    the services it knows (none)."""

    services: dict[ServiceName, ServiceFailover] = Field(default_factory=dict)
