"""Builds every channel from settings, explicitly: the factory's registry.

A provider without its credentials is left out of its chain; a channel left
with no provider is "not configured" and its deliveries are recorded skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from alert_webhook.config.settings import Settings
from alert_webhook.delivery.channels import Channel, Provider
from alert_webhook.delivery.channels.ack_links import AckLinks
from alert_webhook.delivery.channels.email import SmtpEmail, SmtpFactory, connect
from alert_webhook.delivery.channels.simple import Dashboard, JsonWebhook, Log
from alert_webhook.delivery.channels.sms import TwilioSms, make_client

logger = logging.getLogger("alert_webhook.notify")


@dataclass
class Transports:
    """The real boundaries by default; tests pass their own."""

    smtp: SmtpFactory = connect
    twilio: Callable[..., Any] = make_client
    http: requests.Session = field(default_factory=requests.Session)
    log: logging.Logger = logger


def _chain(
    name: str, providers: list[Provider], missing: list[str], total: int, **knowledge: Any
) -> Channel:
    if total == 0:
        problem: str | None = "not configured: no providers in the webhook config"
    elif not providers:
        problem = "not configured: missing " + ", ".join(missing)
    else:
        problem = None
    return Channel(name, providers if problem is None else [], problem, **knowledge)


def build_channels(
    settings: Settings, transports: Transports | None = None, ack_links: AckLinks | None = None
) -> dict[str, Channel]:
    """`ack_links`: what makes the acknowledge link each firing email carries."""
    t = transports or Transports()
    cfg = settings.channels
    email: list[Provider] = []
    email_missing: list[str] = []
    for smtp in cfg.email.providers:
        user, password = settings.secret(smtp.username_env), settings.secret(smtp.password_env)
        absent = [
            n for n, v in ((smtp.username_env, user), (smtp.password_env, password)) if n and not v
        ]
        if absent:
            email_missing += absent
            continue
        email.append(SmtpEmail(smtp, user, password, t.smtp, ack_links))
    sms: list[Provider] = []
    sms_missing: list[str] = []
    for tw in cfg.sms.providers:
        sid, token = settings.secret(tw.account_sid_env), settings.secret(tw.auth_token_env)
        if not sid or not token:
            sms_missing += [
                n for n, v in ((tw.account_sid_env, sid), (tw.auth_token_env, token)) if not v
            ]
            continue
        sms.append(TwilioSms(tw, sid, token, t.twilio))
    hooks: list[Provider] = [
        JsonWebhook(h, settings.secret(h.token_env), t.http) for h in cfg.webhook.providers
    ]
    return {
        "dashboard": Channel("dashboard", [Dashboard()], stored=True),
        "log": Channel("log", [Log(t.log)], inline=True),
        "email": _chain(
            "email", email, email_missing, len(cfg.email.providers), needs_recipient=True
        ),
        "sms": _chain(
            "sms",
            sms,
            sms_missing,
            len(cfg.sms.providers),
            needs_recipient=True,
            budget=cfg.sms.budget,
        ),  # fmt: skip
        "webhook": _chain("webhook", hooks, [], len(cfg.webhook.providers)),
    }


def ack_links_from(settings: Settings, clock: Callable[[], float]) -> AckLinks | None:
    """Links need the shared secret key; without one, mails carry none."""
    if settings.secret_key is None:
        return None
    links = settings.links
    return AckLinks(
        settings.secret_key.get_secret_value(),
        links.public_url or links.dashboard_url,
        links.ack_link_lifetime_seconds,
        clock,
    )
