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
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from werkzeug.security import check_password_hash, generate_password_hash

SECRET_KEY_ENV = "ALERT_WEBHOOK_SECRET_KEY"
MIN_SECRET_KEY_CHARS = 16
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_HASH_METHODS = ("scrypt", "pbkdf2")
USER_ADD = "python -m alert_webhook user add NAME"


@functools.cache
def _unknown_operator_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16))


def is_password_hash(value: str) -> bool:
    """True for what werkzeug's `generate_password_hash` writes: `method$salt$hash`."""
    method, *rest = value.split("$")
    return len(rest) == 2 and all(rest) and method.split(":")[0] in _HASH_METHODS


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Operator name → werkzeug password hash (made by `python -m alert_webhook user add`).
    operators: dict[str, str] = Field(default_factory=dict)
    # Ask for a login to view even on loopback. Beyond loopback it is always asked.
    require_login: bool = False
    # A login lasts this long, then the operator logs in again.
    session_lifetime_seconds: int = Field(default=8 * 3600, gt=0, le=30 * 86400)
    # Host names (a leading dot: every subdomain) requests may name, beyond the
    # bound address, localhost, 127.0.0.1 and the dashboard URL's host.
    allowed_hosts: list[str] = Field(default_factory=list)

    @field_validator("operators")
    @classmethod
    def _hashes_only(cls, operators: dict[str, str]) -> dict[str, str]:
        problems = []
        for name, value in operators.items():
            if not NAME_PATTERN.fullmatch(name):
                problems.append(f"{name!r}: letters, digits and . _ @ - only, at most 64")
            elif not is_password_hash(str(value)):
                # Never echo the value: it may be a password pasted by mistake.
                problems.append(f"{name}: not a password hash; make one with {USER_ADD}")
        if problems:
            raise ValueError("; ".join(problems))
        return operators

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, hosts: list[str]) -> list[str]:
        bad = [h for h in hosts if not re.fullmatch(r"\.?[A-Za-z0-9.-]+", h)]
        if bad:
            raise ValueError(
                f"{', '.join(map(repr, bad))}: a host name or IPv4 address without a port "
                "(a leading dot allows every subdomain)"
            )
        return [h.lower() for h in hosts]


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


def secret_key_problems(auth: AuthSettings, secret_key: str | None) -> list[str]:
    """Logins need a signing key that every replica shares and a restart keeps."""
    if secret_key is not None and len(secret_key) < MIN_SECRET_KEY_CHARS:
        return [f"{SECRET_KEY_ENV}: must be at least {MIN_SECRET_KEY_CHARS} characters"]
    if auth.operators and secret_key is None:
        return [
            f"auth.operators: logging in needs {SECRET_KEY_ENV} set (a random string of at "
            f"least {MIN_SECRET_KEY_CHARS} characters, the same on every replica)"
        ]
    return []


@dataclass(frozen=True)
class Access:
    """Who may do what in one running app: its operators, whether viewing needs
    a login (configured, or listening beyond loopback), how long a login lasts."""

    operators: Operators
    login_to_view: bool
    session_lifetime_seconds: float

    @classmethod
    def of(cls, auth: AuthSettings, listen_host: str) -> Access:
        return cls(
            operators=Operators(dict(auth.operators)),
            login_to_view=auth.require_login or not is_loopback(listen_host),
            session_lifetime_seconds=float(auth.session_lifetime_seconds),
        )
