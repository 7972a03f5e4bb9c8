"""Acknowledge links for email: signed, expiring, naming an incident and a recipient.

A link is the credential: whoever holds the mail may acknowledge that one
incident, as the person it was sent to, until it expires — nothing more. It is
signed with itsdangerous (which Flask ships) under the app's secret key
(`ALERT_WEBHOOK_SECRET_KEY`, shared by replicas and kept over restarts, so a
link mailed by one replica works on another and after a restart), with a salt
of its own so no other signed value (a session cookie) passes for a link.

The expiry is inside the signed payload and judged on the app's clock, so a
link says in the mail until when it works, and tests move a fake clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from alert_webhook.delivery.channels import Message

SALT = "alert-webhook.ack-link"


class LinkInvalid(Exception):
    """Not a link this webhook signed (altered, or signed with another key)."""


class LinkExpired(Exception):
    """A link this webhook signed whose lifetime has passed."""


@dataclass(frozen=True)
class AckLink:
    url: str
    expires_at: float  # epoch seconds


@dataclass(frozen=True)
class AckClaim:
    """What a valid link says: acknowledge this incident as this recipient."""

    alert_id: int
    recipient: str
    expires_at: float


def asks_for_ack(message: Message) -> bool:
    """Only a firing message of an incident asks to be acknowledged: a resolution
    needs nothing, a storm digest speaks for many alerts."""
    return message.status == "firing" and message.alert_id is not None and not message.digest_count


class AckLinks:
    def __init__(
        self,
        secret_key: str,
        base_url: str,
        lifetime_seconds: float,
        clock: Callable[[], float],
    ) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt=SALT)
        self._base = base_url.rstrip("/")
        self._lifetime = lifetime_seconds
        self._clock = clock

    def make(self, alert_id: int, recipient: str) -> AckLink:
        expires_at = float(int(self._clock() + self._lifetime))
        token = self._serializer.dumps([alert_id, recipient, expires_at])
        return AckLink(f"{self._base}/ack/{token}", expires_at)

    def for_message(self, message: Message) -> AckLink | None:
        """The link for this message's recipient, when the message asks for one."""
        if not asks_for_ack(message) or message.alert_id is None:
            return None
        return self.make(message.alert_id, message.recipient)

    def read(self, token: str) -> AckClaim:
        """The claim of a link; LinkInvalid or LinkExpired otherwise."""
        try:
            payload = self._serializer.loads(token)
        except (BadSignature, UnicodeError):
            raise LinkInvalid("this link is not valid: altered, or not made here") from None
        claim = _claim(payload)
        if claim is None:
            raise LinkInvalid("this link is not valid: not an acknowledge link")
        if self._clock() >= claim.expires_at:
            raise LinkExpired("this link expired")
        return claim


def _claim(payload: object) -> AckClaim | None:
    if not (isinstance(payload, list) and len(payload) == 3):
        return None
    alert_id, recipient, expires_at = payload
    if type(alert_id) is not int or not isinstance(recipient, str):
        return None
    if type(expires_at) not in (int, float):
        return None
    return AckClaim(alert_id, recipient, float(expires_at))
