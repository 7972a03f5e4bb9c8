"""Who may use the webhook as a person, and from which host names.

Operators log in with a name and a password; the configuration holds only
werkzeug password hashes (salted scrypt or PBKDF2). A hash does not let anyone
log in, so it may live in the YAML file beside the rest — but it can be
attacked offline, so the file should be readable only by those who run the
webhook. The session signing key, which could forge any login, is a secret:
it comes from the environment (`ALERT_WEBHOOK_SECRET_KEY`) like the bearer token.
"""

from __future__ import annotations

import functools
import ipaddress
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from werkzeug.security import check_password_hash, generate_password_hash

from alert_webhook.config.auth import AuthSettings
from alert_webhook.web.login_limits import LoginLimits


@functools.cache
def _unknown_operator_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(auth: AuthSettings, listen_host: str, *urls: str | None) -> list[str]:
    """The Host names a request may carry: also those of the URLs the webhook is
    reached at (the dashboard's, the public one). A wildcard bind address
    (0.0.0.0) is not a name anyone reaches the webhook by, so it allows nothing."""
    hosts = ["localhost", "127.0.0.1", *auth.allowed_hosts]
    if listen_host and not _is_wildcard(listen_host):
        hosts.append(listen_host.lower())
    hosts += [host for url in urls if url and (host := urlsplit(url).hostname)]
    return list(dict.fromkeys(hosts))


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


@dataclass(frozen=True)
class Operators:
    """The configured operators; checks a login."""

    hashes: Mapping[str, str]

    def verify(self, name: str, password: str) -> bool:
        stored = self.hashes.get(name)
        # An unknown name is checked against a hash too, so it costs as long as a
        # wrong password and response times do not tell which names exist.
        ok = check_password_hash(stored or _unknown_operator_hash(), password)
        return ok and stored is not None

    def stamp(self, name: str) -> str | None:
        """What a session remembers of its operator's hash: a new password (or a
        removed operator) ends every session made with the old one."""
        stored = self.hashes.get(name)
        return stored.rsplit("$", 1)[-1][:16] if stored else None


@dataclass(frozen=True)
class Access:
    """Who may do what in one running app: its operators, whether viewing needs
    a login (configured, or listening beyond loopback), how long a login lasts,
    and how logins are held back after failures."""

    operators: Operators
    login_to_view: bool
    session_lifetime_seconds: float
    logins: LoginLimits

    @classmethod
    def of(
        cls, auth: AuthSettings, listen_host: str, clock: Callable[[], float] = time.time
    ) -> Access:
        return cls(
            operators=Operators(dict(auth.operators)),
            login_to_view=auth.require_login or not is_loopback(listen_host),
            session_lifetime_seconds=float(auth.session_lifetime_seconds),
            logins=LoginLimits.of(auth.login_limits, clock),
        )
