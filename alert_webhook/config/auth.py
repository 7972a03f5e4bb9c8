"""Who may use the webhook as a person: the operators' settings, checked when read."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from alert_webhook.config.environment import SECRET_KEY_ENV
from toolkit.config import Strict

MIN_SECRET_KEY_CHARS = 16


NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


_HASH_METHODS = ("scrypt", "pbkdf2")


USER_ADD = "python -m alert_webhook user add NAME"


def is_password_hash(value: str) -> bool:
    """True for what werkzeug's `generate_password_hash` writes: `method$salt$hash`."""
    method, *rest = value.split("$")
    return len(rest) == 2 and all(rest) and method.split(":")[0] in _HASH_METHODS


class LoginLimitSettings(Strict):
    """How `POST /login` holds back guessing: each check costs ~120 ms of scrypt."""

    # Failed logins per operator name and per client address before any wait.
    free_failures: int = Field(default=5, ge=1, le=1000)
    # The wait after the last free failure; each further failure doubles it...
    first_backoff_seconds: float = Field(default=1.0, gt=0, le=3600)
    # ...up to this.
    max_backoff_seconds: float = Field(default=300.0, gt=0, le=86400)
    # A name or address with no failure for this long starts afresh.
    forget_after_seconds: float = Field(default=900.0, gt=0, le=7 * 86400)
    # Password checks at once; a login past them is answered 429 at once.
    concurrent_checks: int = Field(default=1, ge=1, le=64)
    # Names and addresses remembered at most (the quietest are dropped first).
    max_tracked: int = Field(default=10_000, ge=10, le=1_000_000)


class AuthSettings(Strict):
    # Operator name → werkzeug password hash (made by `python -m alert_webhook user add`).
    operators: dict[str, str] = Field(default_factory=dict)
    # Ask for a login to view even on loopback. Beyond loopback it is always asked.
    require_login: bool = False
    # A login lasts this long, then the operator logs in again.
    session_lifetime_seconds: int = Field(default=8 * 3600, gt=0, le=30 * 86400)
    # Host names (a leading dot: every subdomain) requests may name, beyond the
    # bound address, localhost, 127.0.0.1 and the dashboard URL's host.
    allowed_hosts: list[str] = Field(default_factory=list)
    login_limits: LoginLimitSettings = Field(default_factory=LoginLimitSettings)

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
