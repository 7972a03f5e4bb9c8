"""`/login` and `/logout`: operators log in with their name and password.

Both forms are CSRF-checked, the login form too: otherwise another site could
log a browser in as an operator of the attacker's choosing. Errors are pages
that name the problem, never the password given.

Guessing is held back (`web/login_limits.py`): after a few failures for a name
or from an address, and while the password checks allowed at once are running,
a login is answered 429 with `Retry-After` and a page saying when to try again,
without checking the password. Every attempt is logged with the name, the
client's address and the outcome, never the password.
"""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from alert_webhook.config.auth import USER_ADD
from alert_webhook.web.auth import current_operator, log_in, log_out
from alert_webhook.web.context import ctx

bp = Blueprint("login", __name__, template_folder="templates")

BACKED_OFF = (
    "Too many failed logins for this name or from this address; try again in {wait} seconds."
)
BUSY = "The webhook is checking other logins; try again in a second."


def _local(target: str | None) -> str:
    """Where to go after the login: a path on this site only, never another host."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def _page(status: int = 200, problems: list[str] | None = None, name: str = "") -> Any:
    nobody = not ctx().access.operators.hashes
    return render_template(
        "login.html",
        problems=problems or [],
        name=name,
        next=_local(request.values.get("next")),
        operator=current_operator(),
        no_operators=nobody,
        user_add=USER_ADD,
    ), status


@bp.get("/login")
def page() -> Any:
    return _page()


@bp.post("/login")
def submit() -> Any:
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    access = ctx().access
    address = request.remote_addr or "unknown"
    # A flood is mostly attempts during a back-off: answered before anything
    # else costs (the CSRF check included: nothing is done for them).
    wait = math.ceil(access.logins.retry_after(name, address))
    if wait > 0:
        _refused(name, address, f"backed off for {wait} s after failed logins")
        return _too_many(wait, BACKED_OFF.format(wait=wait), name)
    try:
        current_app.extensions["csrf"].protect()
    except CSRFError:
        return _page(400, ["The form expired or did not come from this page; reload it."])
    fields = {"name": name, "password": password}
    missing = [f"{field}: required" for field, value in fields.items() if not value]
    if missing:
        return _page(400, missing, name)
    with access.logins.checks.slot() as checking:
        if not checking:
            _refused(name, address, "other logins are being checked")
            return _too_many(1, BUSY, name)
        ok = access.operators.verify(name, password)
    if not ok:
        access.logins.failed(name, address)
        _refused(name, address, "wrong name or password")
        return _page(401, ["wrong name or password"], name)
    access.logins.succeeded(name, address)
    log_in(name)
    current_app.logger.info("operator %s logged in from %s", name, address)
    return redirect(_local(request.form.get("next")), code=303)


def _refused(name: str, address: str, why: str) -> None:
    current_app.logger.warning("login refused for operator %r from %s: %s", name[:64], address, why)


def _too_many(wait: int, problem: str, name: str) -> Any:
    """429 with the page saying when to try again, and `Retry-After` saying it to programs."""
    page, status = _page(429, [problem], name)
    return page, status, {"Retry-After": str(wait)}


@bp.post("/logout")
def logout() -> Any:
    current_app.extensions["csrf"].protect()
    log_out()
    return redirect(url_for("login.page"), code=303)
