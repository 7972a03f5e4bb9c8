"""The reports' settings: `reports.digest`, the weekly noise digest by email
(off unless asked for)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from toolkit.config import Strict

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# One address, as a `To` header takes it: no spaces, no control characters, one @.
_ADDRESS = re.compile(r"[^\s@]+@[^\s@]+")


class DigestSettings(Strict):
    enabled: bool = False
    # When each ISO week's digest is sent (UTC); it covers the 7 days before.
    weekday: Weekday = "mon"
    hour: int = Field(default=8, ge=0, le=23)
    # Empty: the email channel's recipients (`channels.email.recipients`).
    recipients: list[str] = Field(default_factory=list)
    # How often a replica looks whether the week's digest is due or a send is to retry.
    check_seconds: float = Field(default=60.0, gt=0)
    # While the mail relay is unavailable a digest is retried (with the delivery
    # retry policy's backoff) this long before it is recorded failed: it is not
    # urgent, so an outage of hours loses nothing.
    give_up_after_seconds: float = Field(default=86400.0, gt=0)

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, recipients: list[str]) -> list[str]:
        for n, address in enumerate(recipients):
            if not _ADDRESS.fullmatch(address):
                raise ValueError(f"recipient {n + 1} is not one email address")
        return list(dict.fromkeys(recipients))

    def recipients_or(self, email_recipients: list[str]) -> list[str]:
        """Who receives the digest: its own list, else the email channel's."""
        return self.recipients or list(dict.fromkeys(email_recipients))


class ReportSettings(Strict):
    digest: DigestSettings = DigestSettings()
