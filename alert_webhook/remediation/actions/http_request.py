"""http_request: one HTTP call, e.g. a token refresh hook or a queue drain endpoint.

The URL is a template whose label values are checked against a safe alphabet
(no `/`, `?`, `#`, `@` or `%`), so a label can fill in a host, a port or a path
segment but never add a path, a query or credentials. Header values are literal,
or read from environment variables named in the playbook: a secret is never
written in the YAML. Redirects are not followed (a redirect could go anywhere).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

import requests
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

# Headers that carry credentials: only ever from the environment.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


class HttpRequestParams(ActionParams):
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    # Header name → environment variable holding its whole value ("Bearer …").
    headers_from_env: dict[str, EnvVar] = Field(default_factory=dict)
    json_body: Any = None
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] | None = None  # None: any 2xx

    label_patterns: ClassVar[dict[str, str]] = {"url": SAFE_WORD}

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise ValueError("must not hold credentials; use headers_from_env")
        try:
            parts.port  # noqa: B018 - urlsplit checks the port only when asked
        except ValueError:
            raise ValueError("has an invalid port") from None
        return url

    @field_validator("headers")
    @classmethod
    def _no_literal_secrets(cls, headers: dict[str, str]) -> dict[str, str]:
        named = sorted(h for h in headers if h.lower() in SECRET_HEADERS)
        if named:
            raise ValueError(
                f"{', '.join(named)}: secrets are not read from files; name an "
                "environment variable in headers_from_env instead"
            )
        return headers

    def env_names(self) -> list[str]:
        return list(dict.fromkeys(self.headers_from_env.values()))


def _expected(params: HttpRequestParams, status: int) -> bool:
    if params.expect_status is None:
        return 200 <= status < 300
    return status in params.expect_status


def run(params: HttpRequestParams, timeout: float, ctx: Boundaries) -> ActionResult:
    started = ctx.monotonic()
    missing = [name for name in params.env_names() if not ctx.env.get(name)]
    if missing:
        detail = f"environment variable {', '.join(missing)} is not set"
        return ActionResult(ActionOutcome.FAILED, None, "", ctx.monotonic() - started, detail)
    headers = {"User-Agent": "recovery-stack-remediation", **params.headers}
    headers |= {name: ctx.env[var] for name, var in params.headers_from_env.items()}
    try:
        with ctx.http.request(
            params.method,
            params.url,
            headers=headers,
            json=params.json_body,
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        ) as response:
            status = response.status_code
            body = _read_tail(response, started + timeout, ctx)
    except (requests.Timeout, _Overran):
        detail = f"no answer from {urlsplit(params.url).netloc} within {timeout:g}s"
        return ActionResult(ActionOutcome.TIMED_OUT, None, "", ctx.monotonic() - started, detail)
    except requests.RequestException as exc:
        detail = f"{type(exc).__name__}: {exc}"
        return ActionResult(ActionOutcome.FAILED, None, "", ctx.monotonic() - started, detail)
    duration = ctx.monotonic() - started
    if _expected(params, status):
        return ActionResult(ActionOutcome.SUCCEEDED, status, tail(body), duration)
    return ActionResult(ActionOutcome.FAILED, status, tail(body), duration, f"HTTP status {status}")


class _Overran(Exception):
    pass


def _read_tail(response: requests.Response, deadline: float, ctx: Boundaries) -> bytes:
    """The body's end, within the deadline: requests' timeout bounds each read, so
    a server dribbling bytes would otherwise hold the run past its timeout."""
    kept = b""
    for chunk in response.iter_content(65536):
        kept = (kept + chunk)[-OUTPUT_TAIL_BYTES:]
        if ctx.monotonic() > deadline:
            raise _Overran
    return kept


ACTION = Action("http_request", HttpRequestParams, run)
