"""`/login` and `/logout`: operators log in with their name and password.

Both forms are CSRF-checked, the login form too: otherwise another site could
log a browser in as an operator of the attacker's choosing. Errors are pages
that name the problem, never the password given.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from alert_webhook.config.auth import USER_ADD
from alert_webhook.web.auth import current_operator, log_in, log_out
from alert_webhook.web.context import ctx

bp = Blueprint("login", __name__, template_folder="templates")


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
    try:
        current_app.extensions["csrf"].protect()
    except CSRFError:
        return _page(400, ["The form expired or did not come from this page; reload it."])
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    fields = {"name": name, "password": password}
    missing = [f"{field}: required" for field, value in fields.items() if not value]
    if missing:
        return _page(400, missing, name)
    if not ctx().access.operators.verify(name, password):
        current_app.logger.warning("login refused for operator %r", name[:64])
        return _page(401, ["wrong name or password"], name)
    log_in(name)
    current_app.logger.info("operator %s logged in", name)
    return redirect(_local(request.form.get("next")), code=303)


@bp.post("/logout")
def logout() -> Any:
    current_app.extensions["csrf"].protect()
    log_out()
    return redirect(url_for("login.page"), code=303)
