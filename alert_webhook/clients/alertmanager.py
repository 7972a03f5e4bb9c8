"""A small client of Alertmanager's v2 API: silences, the alerts it holds, and
when it started.

Remediation silences the alert it is fixing for the run's window (so a repeat
does not page people mid-fix) and expires the silence when the run ends;
operators silence incidents from the console, and while such a silence holds the
webhook reads the alert's state here (a silenced alert's resolution is never
sent to it); the webhook reconciles the alerts it holds as firing with those
Alertmanager still has (`ingest/reconcile.py`). Only what those need is here: create,
expire, list silences; list alerts; the start time. Every call has a timeout
and every failure is one `AlertmanagerError` saying what was asked and what
came back, so a caller can record it and go on.

Matchers are always equality matchers on whole label values (`isRegex: false`):
a label value is never turned into a regular expression, so a value such as
`.*` silences exactly the alert that carries it, not every alert.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

CREATED_BY = "recovery-stack"
DEFAULT_TIMEOUT = 5.0


class AlertmanagerError(Exception):
    """Alertmanager could not be reached or refused the request."""


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    is_regex: bool = False  # only ever read from Alertmanager, never created here
    is_equal: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "isRegex": self.is_regex,
                "isEqual": self.is_equal}  # fmt: skip


@dataclass(frozen=True)
class Silence:
    """A silence as Alertmanager lists it."""

    id: str
    state: str  # active, pending or expired
    matchers: tuple[Matcher, ...]
    starts_at: str
    ends_at: str
    created_by: str
    comment: str


@dataclass(frozen=True)
class HeldAlert:
    """An alert as Alertmanager lists it: firing (resolved ones are not listed)."""

    fingerprint: str
    labels: dict[str, str]
    state: str  # active, suppressed or unprocessed
    starts_at: dt.datetime


def to_millisecond(instant: dt.datetime) -> dt.datetime:
    """An instant as Alertmanager's API lists it: to the millisecond, cut (Go's
    formatting does not round). Its notifications carry the instant whole, so an
    alert's start from a notification is compared with the listed one this way."""
    return instant.replace(microsecond=instant.microsecond - instant.microsecond % 1000)


def matchers_for(labels: Mapping[str, str]) -> list[Matcher]:
    """Equality matchers for an alert's labels (alertname first): together they
    match that alert, and an alert carrying other values for any of them not."""
    names = sorted(labels, key=lambda name: (name != "alertname", name))
    return [Matcher(name, labels[name]) for name in names if labels[name] != ""]


def rfc3339(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")


class AlertmanagerAPI:
    """Alertmanager at `base_url` (e.g. http://127.0.0.1:9093), through `session`."""

    def __init__(
        self,
        base_url: str,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout

    def _call(self, method: str, path: str, what: str, **kw: Any) -> requests.Response:
        url = f"{self.base_url}/api/v2{path}"
        try:
            resp = self.session.request(method, url, timeout=self.timeout, **kw)
        except requests.RequestException as exc:
            raise AlertmanagerError(f"{what}: {type(exc).__name__} from {url}") from None
        if resp.status_code != 200:
            body = resp.text.strip().replace("\n", " ")[:300]
            raise AlertmanagerError(f"{what}: HTTP {resp.status_code} from {url}: {body}")
        return resp

    def create_silence(
        self,
        matchers: list[Matcher],
        starts_at: float,
        ends_at: float,
        comment: str,
        created_by: str = CREATED_BY,
    ) -> str:
        """Create a silence from `starts_at` to `ends_at` (epoch seconds); its id."""
        if not matchers:
            raise AlertmanagerError("create silence: no matchers (it would silence everything)")
        if any(m.is_regex or not m.is_equal for m in matchers):
            raise AlertmanagerError("create silence: only equality matchers are created")
        body = {
            "matchers": [m.to_json() for m in matchers],
            "startsAt": rfc3339(starts_at),
            "endsAt": rfc3339(ends_at),
            "createdBy": created_by,
            "comment": comment,
        }
        resp = self._call("POST", "/silences", "create silence", json=body)
        try:
            silence_id = resp.json()["silenceID"]
        except (ValueError, KeyError, TypeError):
            raise AlertmanagerError("create silence: the answer holds no silenceID") from None
        return str(silence_id)

    def expire_silence(self, silence_id: str) -> None:
        """End a silence now (Alertmanager keeps it, expired, for its retention)."""
        path = f"/silence/{quote(silence_id, safe='')}"
        self._call("DELETE", path, f"expire silence {silence_id}")

    def list_silences(self, matchers: list[Matcher] | None = None) -> list[Silence]:
        """Every silence Alertmanager holds, or those whose matchers include these."""
        resp = self._call("GET", "/silences", "list silences", params=_filters(matchers))
        try:
            return [_silence(raw) for raw in resp.json()]
        except (ValueError, KeyError, TypeError):
            raise AlertmanagerError("list silences: not a list of silences") from None

    def list_alerts(self, matchers: list[Matcher] | None = None) -> list[HeldAlert]:
        """The firing alerts whose labels these matchers match (silenced and
        inhibited ones included), every one without matchers: an alert that
        resolved is not among them. An answer that is not such a list is an
        AlertmanagerError, never taken for an empty one."""
        resp = self._call("GET", "/alerts", "list alerts", params=_filters(matchers))
        try:
            raws = resp.json()
            if not isinstance(raws, list):
                raise TypeError
            return [_held_alert(raw) for raw in raws]
        except (ValueError, KeyError, TypeError):
            raise AlertmanagerError("list alerts: not a list of alerts") from None

    def started_at(self) -> dt.datetime:
        """When this Alertmanager started (`uptime` of GET /api/v2/status): it
        holds only the alerts sent to it since."""
        resp = self._call("GET", "/status", "status")
        try:
            return _instant(resp.json()["uptime"])
        except (ValueError, KeyError, TypeError):
            raise AlertmanagerError("status: no start time (uptime) in the answer") from None


def _instant(value: Any) -> dt.datetime:
    """An RFC 3339 timestamp with its zone; TypeError or ValueError otherwise."""
    if not isinstance(value, str):
        raise TypeError(value)
    instant = dt.datetime.fromisoformat(value)
    if instant.tzinfo is None:
        raise ValueError(value)
    return instant


def _held_alert(raw: Any) -> HeldAlert:
    """One alert of GET /alerts; TypeError, KeyError or ValueError unless every
    field the webhook compares is there with its type (a number for a
    fingerprint would match nothing, and so pass for a resolution)."""
    fingerprint, labels, state = raw["fingerprint"], raw["labels"], raw["status"]["state"]
    if not (isinstance(fingerprint, str) and isinstance(labels, dict) and isinstance(state, str)):
        raise TypeError(raw)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise TypeError(labels)
    return HeldAlert(fingerprint, dict(labels), state, _instant(raw["startsAt"]))


def _filters(matchers: list[Matcher] | None) -> list[tuple[str, str]]:
    """Query parameters asking for what these equality matchers match."""
    return [("filter", f'{m.name}="{_quoted(m.value)}"') for m in matchers or []]


def _quoted(value: str) -> str:
    """A value inside a filter's double quotes."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _silence(raw: dict[str, Any]) -> Silence:
    return Silence(
        id=raw["id"],
        state=raw["status"]["state"],
        matchers=tuple(
            Matcher(m["name"], m["value"], bool(m["isRegex"]), bool(m.get("isEqual", True)))
            for m in raw["matchers"]
        ),
        starts_at=raw["startsAt"],
        ends_at=raw["endsAt"],
        created_by=raw["createdBy"],
        comment=raw["comment"],
    )
