"""app/channels.py: every channel built from settings, with what it knows of itself."""

from __future__ import annotations

from fakes import TWILIO_ENV

from alert_webhook.app.channels import build_channels
from alert_webhook.config.settings import settings_from_mapping

SMTP = {"name": "relay1", "host": "127.0.0.1", "port": 2525, "security": "none"}
TWILIO = {"name": "twilio1", "from_number": "+15555550000"}


def _channels(config: dict, env: dict | None = None):
    return build_channels(settings_from_mapping(config, env or {}))


def test_every_channel_is_there_and_knows_how_it_delivers() -> None:
    channels = _channels({"channels": {"sms": {"budget": {"max_messages": 7}}}})
    assert list(channels) == ["dashboard", "log", "email", "sms", "webhook"]
    assert [n for n, c in channels.items() if c.stored] == ["dashboard"]
    assert [n for n, c in channels.items() if c.needs_recipient] == ["email", "sms"]
    assert channels["sms"].budget is not None and channels["sms"].budget.max_messages == 7
    assert channels["email"].budget is None
    assert [p.local for p in channels["dashboard"].providers + channels["log"].providers] == [
        True,
        True,
    ]


def test_a_channel_without_providers_says_so() -> None:
    channels = _channels({})
    assert channels["dashboard"].configured and channels["log"].configured
    for name in ("email", "sms", "webhook"):
        assert not channels[name].configured
        assert channels[name].problem == "not configured: no providers in the webhook config"


def test_a_provider_without_its_credentials_is_left_out_and_named() -> None:
    config = {
        "channels": {
            "sms": {"providers": [TWILIO, {**TWILIO, "name": "twilio2",
                                           "account_sid_env": "SID2", "auth_token_env": "TOK2"}]},
            "email": {"providers": [{**SMTP, "username_env": "SMTP_USER",
                                     "password_env": "SMTP_PASSWORD"}]},
        }
    }  # fmt: skip
    channels = _channels(config, TWILIO_ENV)
    assert [p.name for p in channels["sms"].providers] == ["twilio1"]
    assert channels["sms"].configured and not channels["sms"].providers[0].local
    email = channels["email"]
    assert not email.configured and email.providers == []
    assert email.problem == "not configured: missing SMTP_USER, SMTP_PASSWORD"
