"""channels/ack_links.py: links that name an incident and a recipient, signed, expiring."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeSerializer
from test_format import message
from webhook_support import FakeClock

from alert_webhook.delivery.channels.ack_links import (
    SALT,
    AckClaim,
    AckLinks,
    LinkExpired,
    LinkInvalid,
)

KEY = "test-signing-key-" + "k" * 16


@pytest.fixture
def links(clock: FakeClock) -> AckLinks:
    return AckLinks(KEY, "https://alerts.example.org/", 3600, clock)


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_a_link_names_its_incident_and_recipient_until_it_expires(links, clock) -> None:
    link = links.make(42, "bob@example.org")
    assert link.url.startswith("https://alerts.example.org/ack/")
    assert link.expires_at == clock.now + 3600
    assert links.read(token_of(link.url)) == AckClaim(42, "bob@example.org", link.expires_at)


def test_it_is_refused_once_its_lifetime_has_passed(links, clock) -> None:
    token = token_of(links.make(42, "bob@example.org").url)
    clock.advance(3599)
    links.read(token)
    clock.advance(1)
    with pytest.raises(LinkExpired) as exc:
        links.read(token)
    assert "expired" in str(exc.value)


@pytest.mark.parametrize(
    "forge",
    [
        lambda: URLSafeSerializer("another-key-" + "x" * 20, salt=SALT).dumps([42, "b", 2e9]),
        lambda: URLSafeSerializer(KEY, salt="cookie-session").dumps([42, "b", 2e9]),
        lambda: URLSafeSerializer(KEY, salt=SALT).dumps({"alert_id": 42}),  # not a link's shape
        lambda: URLSafeSerializer(KEY, salt=SALT).dumps([True, "b", 2e9]),
        lambda: "",
        lambda: "é" * 50,
    ],
    ids=["other-key", "other-purpose", "other-shape", "bool-id", "empty", "non-ascii"],
)
def test_anything_it_did_not_sign_as_a_link_is_invalid(links, forge) -> None:
    with pytest.raises(LinkInvalid):
        links.read(forge())


def test_only_a_firing_message_of_an_incident_gets_a_link(links) -> None:
    assert links.for_message(message(channel="email", recipient="bob@example.org"))
    assert links.for_message(message(channel="email", status="resolved")) is None
    assert links.for_message(message(channel="email", alert_id=None)) is None
