"""A probed API's rate-limit headroom, read from the headers of its answer.

The plan's line for rate-limited APIs is "monitor API response headers; if rate
limited, back off": the HTTP probe publishes what an answer says about its
budget, so a rule can warn before the budget runs out. Three families of headers
are read, the standard first, each field taken from the first family that gives it:

1. the IETF draft (draft-ietf-httpapi-ratelimit-headers): `RateLimit` with
   `RateLimit-Policy` as Structured Fields (`"default";r=50;t=30` and
   `"default";q=100;w=60`), its draft-07 dictionary `limit=100, remaining=50,
   reset=5`, and the older separate `RateLimit-Limit`, `-Remaining`, `-Reset`;
2. the de-facto `X-RateLimit-Limit`, `-Remaining`, `-Reset` (GitHub, Twitter, …);
3. `Retry-After` (RFC 9110: seconds, or an HTTP date).

A reset is published as seconds from now. Servers send it either as a delta or as
a Unix time (GitHub, GitLab); a value of 10^9 or more (September 2001) is read as a
Unix time, since no rate-limit window lasts 31 years.

Only what the answer said is published: an absent header is an absent series,
never a made-up zero. A header that cannot be read is left out with its reason
(logged at debug, and counted as `probe_http_ratelimit_header_invalid{header}`);
nothing here raises, whatever the peer sends.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from http_sf import parse as parse_structured
from http_sf.errors import StructuredFieldError
from http_sf.types import Token

from exporters.checks.base import Report
from toolkit.retry_after import parse_retry_after

log = logging.getLogger(__name__)

# Lower-case names of every header read here; `header` label values come from this set only.
HEADERS = (
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "retry-after",
)
EPOCH_FROM = 1_000_000_000  # a reset at least this large is a Unix time, not a delta
_DECIMAL = re.compile(r"[0-9]{1,15}(\.[0-9]{1,9})?")


class Unreadable(ValueError):
    """A header's value is not what its format allows; the message says why."""


@dataclass(frozen=True)
class Headroom:
    """What one answer said about its rate limit; None where it said nothing."""

    limit: float | None = None
    remaining: float | None = None
    reset_seconds: float | None = None
    retry_after_seconds: float | None = None
    invalid: tuple[tuple[str, str], ...] = ()  # (header, reason)


Policy = tuple[str, float, float | None]  # name, remaining units, reset


@dataclass(frozen=True)
class _Reading:
    limit: float | None = None
    remaining: float | None = None
    reset: float | None = None


def _count(value: Any, what: str) -> float:
    """A non-negative number from a Structured Field (Integer or Decimal)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        raise Unreadable(f"{what} is not a number")
    if value < 0:
        raise Unreadable(f"{what} is negative")
    return float(value)


def _decimal(text: str, what: str) -> float:
    """A plain non-negative decimal such as `4999` or `1.5` (the X- headers)."""
    if not _DECIMAL.fullmatch(text.strip()):
        raise Unreadable(f"{what} is not a non-negative number")
    return float(text)


def _structured(text: str, kind: str) -> Any:
    try:
        return parse_structured(text.encode("ascii"), tltype=kind)
    except (StructuredFieldError, UnicodeEncodeError, ValueError) as exc:
        raise Unreadable(f"not a structured field {kind}: {exc}") from None


def _policy_quotas(text: str) -> dict[str, float]:
    """`RateLimit-Policy`: policy name → quota (`q`)."""
    quotas = {}
    for name, params in _structured(text, "list"):
        if not isinstance(name, str | Token) or "q" not in params:
            raise Unreadable("a policy without a name or a quota (q)")
        quotas[str(name)] = _count(params["q"], "quota (q)")
    return quotas


def _tightest(policies: list[Policy], quotas: dict[str, float]) -> _Reading:
    """Of several policies (name, remaining, reset), the one closest to running out:
    the smallest share of its quota left; an exhausted one whatever its quota."""

    def share(policy: Policy) -> float:
        name, remaining, _ = policy
        quota = quotas.get(name)
        if remaining == 0:
            return -1.0
        return remaining / quota if quota else math.inf

    name, remaining, reset = min(policies, key=lambda p: (share(p), p[1]))
    return _Reading(quotas.get(name), remaining, reset)


def _ietf_ratelimit(text: str, quotas: dict[str, float]) -> _Reading:
    """`RateLimit`: the current draft's list of policies, else draft-07's dictionary."""
    try:
        items = _structured(text, "list")
    except Unreadable:
        fields = _structured(text, "dictionary")
        if "remaining" not in fields:
            raise Unreadable("no remaining units (r, or remaining=)") from None
        value = {k: fields[k][0] for k in ("limit", "remaining", "reset") if k in fields}
        return _Reading(
            _count(value["limit"], "limit") if "limit" in value else None,
            _count(value["remaining"], "remaining"),
            _count(value["reset"], "reset") if "reset" in value else None,
        )
    policies: list[Policy] = []
    for name, params in items:
        if "r" not in params:
            raise Unreadable("a policy without remaining units (r)")
        reset = _count(params["t"], "reset (t)") if "t" in params else None
        policies.append((str(name), _count(params["r"], "remaining (r)"), reset))
    if not policies:
        raise Unreadable("no policy")
    return _tightest(policies, quotas)


def _first_limit(text: str) -> float:
    """`RateLimit-Limit`: an Integer, or (older drafts) a list whose first member is
    the limit in force (`10, 10;w=1, 50;w=60`)."""
    items = _structured(text, "list")
    if not items:
        raise Unreadable("empty")
    return _count(items[0][0], "limit")


def _retry_after(text: str, now: float) -> float:
    retry_after = parse_retry_after(text)
    if retry_after is None:
        raise Unreadable("neither seconds nor an HTTP date")
    return retry_after.wait(now)


def _reset_seconds(value: float, now: float) -> float:
    return max(0.0, value - now) if value >= EPOCH_FROM else value


def read_headroom(headers: Iterable[tuple[str, str]], now: float) -> Headroom:
    """The headroom an answer's `headers` announce; `now` (Unix time) turns reset
    times and HTTP dates into seconds. Never raises: unreadable headers are listed
    in `invalid` with their reason and otherwise ignored."""
    values: dict[str, list[str]] = {}
    for name, value in headers:
        if (key := name.lower()) in HEADERS:
            values.setdefault(key, []).append(value)
    # Repeated lines of one field are one comma-separated value (RFC 9110 5.3).
    joined = {key: ", ".join(parts) for key, parts in values.items()}
    invalid: dict[str, str] = {}

    def attempt(key: str, read: Any) -> Any:
        if key not in joined:
            return None
        try:
            return read(joined[key])
        except (Unreadable, ValueError, TypeError, ArithmeticError) as exc:
            # Unreadable says why; the others are a peer's value no check foresaw.
            invalid[key] = str(exc) or type(exc).__name__
            log.debug("ignoring %s header %r: %s", key, joined[key][:200], exc)
            return None

    quotas = attempt("ratelimit-policy", _policy_quotas) or {}
    ietf = attempt("ratelimit", lambda text: _ietf_ratelimit(text, quotas)) or _Reading()
    older = _Reading(
        attempt("ratelimit-limit", _first_limit),
        attempt("ratelimit-remaining", lambda t: _count(_structured(t, "item")[0], "value")),
        attempt("ratelimit-reset", lambda t: _count(_structured(t, "item")[0], "value")),
    )
    de_facto = _Reading(
        *(
            attempt(f"x-ratelimit-{field}", lambda t: _decimal(t, "value"))
            for field in ("limit", "remaining", "reset")
        )
    )
    readings = (ietf, older, de_facto)
    reset = next((r.reset for r in readings if r.reset is not None), None)
    return Headroom(
        limit=next((r.limit for r in readings if r.limit is not None), None),
        remaining=next((r.remaining for r in readings if r.remaining is not None), None),
        reset_seconds=None if reset is None else _reset_seconds(reset, now),
        retry_after_seconds=attempt("retry-after", lambda t: _retry_after(t, now)),
        invalid=tuple(sorted(invalid.items())),
    )


def publish(headroom: Headroom, report: Report) -> None:
    """blackbox-style gauges of what the answer said; nothing for what it did not."""
    for name, value in (
        ("probe_http_ratelimit_limit", headroom.limit),
        ("probe_http_ratelimit_remaining", headroom.remaining),
        ("probe_http_ratelimit_reset_seconds", headroom.reset_seconds),
        ("probe_http_retry_after_seconds", headroom.retry_after_seconds),
    ):
        if value is not None:
            report.add(name, value)
    for header, _reason in headroom.invalid:
        report.add("probe_http_ratelimit_header_invalid", 1, header=header)
