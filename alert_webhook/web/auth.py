"""Who may call what: the bearer token for machines, a logged-in operator for people.

Alertmanager and scripts send `Authorization: Bearer <token>` (compared in
constant time). People log in (`dashboard/login.py`) and carry a signed,
HttpOnly, SameSite session cookie that names the operator; every form they
post also carries the session's CSRF token (Flask-WTF), so another site can
neither post as them nor read the token.

- An action (acknowledge, and any later one) needs the configured bearer token
  or a logged-in operator with the CSRF token; the record names the operator.
- Viewing (the page, the JSON reads, which show recipients' numbers and
  addresses) is open on loopback unless `auth.require_login`; listening beyond
  loopback it needs the token or a login.

A session lasts `auth.session_lifetime_seconds` from the login, measured on the
app's clock; changing an operator's password or removing them ends it at once.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    Request,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask_wtf.csrf import CSRFProtect

from alert_webhook.config.auth import USER_ADD
from alert_webhook.config.settings import Settings
from alert_webhook.text import one_line
from alert_webhook.web.context import ctx
from alert_webhook.web.operators import Access

SESSION_COOKIE = "alert_webhook_session"
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
TOKEN_ACTOR = "api token"  # who acted, in the record, when a caller had the bearer token


def install(app: Flask, settings: Settings, access: Access) -> None:
    """Signed session cookies and CSRF protection for this app."""
    auth = settings.auth
    if access.login_to_view and not access.operators.hashes:
        app.logger.warning(
            "viewing needs a login and no operator is configured: only the bearer token "
            "can read the page's data; add one with %s",
            USER_ADD,
        )
    key = settings.secret_key.get_secret_value() if settings.secret_key else None
    # Without operators nobody logs in, so a key of this process alone will do
    # (it signs only the login form's CSRF token); with operators the settings
    # insist on one from the environment, shared by replicas and restarts.
    app.config["SECRET_KEY"] = key or secrets.token_urlsafe(32)
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        # Lax, not Strict: a link in an email or SMS must open the page logged
        # in; cross-site POSTs still carry no cookie, and the CSRF token is checked.
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=urlsplit(settings.links.dashboard_url).scheme == "https",
        PERMANENT_SESSION_LIFETIME=auth.session_lifetime_seconds,
        # Checked where a session acts (`action_required`, the login form), not
        # on every POST: Alertmanager and scripts carry the bearer token instead.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=auth.session_lifetime_seconds,
    )
    app.session_interface = CookieSessions()
    CSRFProtect(app)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, minus the work of a session nobody has.

    Most requests carry no session cookie: Alertmanager's every `POST /alerts`,
    scrapes, health checks. Flask builds the cookie signer for each of them
    anyway, to find there is nothing to verify, and reads six cookie settings
    on the way out to find there is nothing to write. Here such a request gets
    an empty session at once, and one nobody touched is not saved; a request
    with a cookie, or one that logs in or out, goes through Flask's own code.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if session or session.modified or session.accessed:
            super().save_session(app, session, response)


def bearer_ok(expected: str | None) -> bool:
    """True without a configured token, else when the request carries it."""
    if expected is None:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), expected.encode()
    )


def bearer_given() -> bool:
    """True only when a token is configured and the request carries it."""
    token = ctx().token
    return token is not None and bearer_ok(token)


def bearer_refusal() -> Any | None:
    """The 401 answer when the request lacks the configured bearer token, else None."""
    if bearer_ok(ctx().token):
        return None
    return jsonify({"error": "missing or wrong bearer token in the Authorization header"}), 401


def bearer_required(
    refused: Callable[[], None] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view that answers 401 without the bearer token; `refused` is told first."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            refusal = bearer_refusal()
            if refusal is None:
                return view(*args, **kwargs)
            if refused is not None:
                refused()
            return refusal

        return guarded

    return decorate


def log_in(name: str) -> None:
    """Start a fresh session for operator `name` (nothing of the old one is kept)."""
    app = ctx()
    session.clear()
    session.permanent = True
    session["operator"] = name
    session["stamp"] = app.access.operators.stamp(name)
    session["login_at"] = app.clock()


def log_out() -> None:
    session.clear()


def current_operator() -> str | None:
    """The logged-in operator of this request, or None (an expired or outdated
    session is cleared)."""
    name = session.get("operator")
    if not isinstance(name, str):
        return None
    app = ctx()
    login_at = session.get("login_at")
    # No lower bound: a login stamped by a replica whose clock runs a little
    # ahead is still a login (the signed cookie cannot be made up).
    fresh = (
        isinstance(login_at, int | float)
        and app.clock() - login_at < app.access.session_lifetime_seconds
    )
    stamp = app.access.operators.stamp(name)
    if not fresh or stamp is None or session.get("stamp") != stamp:
        session.clear()
        return None
    return name


@dataclass(frozen=True)
class Actor:
    """Who is acting: a logged-in operator, or a caller with the bearer token."""

    operator: str | None

    @property
    def name(self) -> str:
        """Who the record names: the operator, or the bearer token."""
        return self.operator or TOKEN_ACTOR

    @property
    def on_the_page(self) -> bool:
        """An operator's form post from the page, answered with a page (not JSON)."""
        return self.operator is not None and not request.is_json

    def acked_by(self, claimed: object) -> str:
        """The name recorded: the operator's own, or what a token-holding script says
        (else the token, as every other action records it)."""
        if self.operator is not None:
            return self.operator
        return one_line(str(claimed or "")).strip()[:200] or TOKEN_ACTOR


def acting() -> Actor:
    """The actor `action_required` let through."""
    actor: Actor = g.actor
    return actor


def action_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """The bearer token, or a logged-in operator whose request carries the
    session's CSRF token (400 otherwise). Nobody else: a browser form goes to
    the login page, anything else gets 401."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if bearer_given():
            g.actor = Actor(operator=None)
        elif (operator := current_operator()) is not None:
            current_app.extensions["csrf"].protect()
            g.actor = Actor(operator=operator)
        elif request.mimetype in FORM_TYPES:
            return redirect(url_for("login.page", next="/"), code=303)
        else:
            return jsonify({"error": "log in or send the bearer token to do this"}), 401
        return view(*args, **kwargs)

    return guarded


def may_view() -> bool:
    return not ctx().access.login_to_view or bearer_given() or current_operator() is not None


def viewer_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """JSON reads: 401 when viewing needs a login or the token and neither is there."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if may_view():
            return view(*args, **kwargs)
        return jsonify({"error": "log in or send the bearer token to view this"}), 401

    return guarded


def page_viewer_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Pages: to the login page when viewing needs a login and there is none."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if may_view():
            return view(*args, **kwargs)
        return redirect(url_for("login.page", next=request.full_path.rstrip("?")), code=303)

    return guarded
