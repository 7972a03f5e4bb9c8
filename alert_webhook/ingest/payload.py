"""Alertmanager's webhook payload (version 4) → typed notification and alerts.

`parse_notification` validates the whole body and raises `PayloadError` listing
every problem with the field it concerns, so a bad request is answered 400 and
nothing of it is stored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from toolkit.config import format_location

# Alertmanager sends the zero time for "no end yet" on firing alerts.
_ZERO_TIME_PREFIX = "0001-01-01"
# JSON can carry NUL in a string only as this escape (a raw control character is
# invalid JSON), so its absence proves there is none to replace.
_NUL_ESCAPE = b"\\u0000"
_NUL, _REPLACEMENT = "\x00", "\ufffd"


class PayloadError(Exception):
    """A notification that cannot be accepted; `problems` name each field."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['field']}: {p['problem']}" for p in problems))
        self.problems = problems


class _Model(BaseModel):
    # Alertmanager may add fields in later versions: ignore unknown ones.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Alert(_Model):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    # Without a zone the instant is unknown; RFC 3339 always has one.
    startsAt: AwareDatetime
    endsAt: AwareDatetime | None = None
    generatorURL: str = ""
    fingerprint: str = Field(min_length=1, max_length=64)

    @field_validator("startsAt", "endsAt", mode="before")
    @classmethod
    def _rfc3339_text(cls, value: Any, info: ValidationInfo) -> Any:
        # Alertmanager sends RFC 3339 text; a number would silently become 1970.
        if not isinstance(value, str):
            raise ValueError("must be an RFC 3339 timestamp string")
        if info.field_name == "endsAt" and value.startswith(_ZERO_TIME_PREFIX):
            return None
        return value

    @field_validator("labels")
    @classmethod
    def _needs_alertname(cls, value: dict[str, str]) -> dict[str, str]:
        if not value.get("alertname"):
            raise ValueError("must contain a non-empty alertname")
        return value

    @property
    def alertname(self) -> str:
        return self.labels["alertname"]

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")


class Notification(_Model):
    version: Literal["4"]
    groupKey: str
    # Stored in an INTEGER column, 32-bit on PostgreSQL (store.schema.MAX_ID).
    truncatedAlerts: int = Field(default=0, ge=0, le=2**31 - 1)
    status: Literal["firing", "resolved"]
    receiver: str
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[Alert] = Field(min_length=1)


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(_NUL, _REPLACEMENT)
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, BaseModel):
        changed = {name: _without_nul(getattr(value, name)) for name in type(value).model_fields}
        return value.model_copy(update=changed)
    return value


def parse_notification(body: bytes) -> Notification:
    """Parse and validate a raw request body (pydantic parses the JSON itself:
    one pass over the body instead of json.loads and then the dicts).

    A NUL in any string becomes U+FFFD, as a decoder does with what it cannot
    carry: PostgreSQL's text cannot hold NUL, and refusing the notification would
    lose every other alert in it (Alertmanager does not resend a 400).
    """
    try:
        notification = Notification.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors()
        if len(errors) == 1 and errors[0]["loc"] == ():
            if errors[0]["type"] == "json_invalid":
                problem = f"not valid JSON: {errors[0]['msg'].removeprefix('Invalid JSON: ')}"
            else:
                problem = "must be a JSON object"
            raise PayloadError([{"field": "(body)", "problem": problem}]) from None
        problems = [
            {"field": format_location(err["loc"]) or "(body)", "problem": err["msg"]}
            for err in errors
        ]
        raise PayloadError(problems) from None
    return _without_nul(notification) if _NUL_ESCAPE in body else notification
