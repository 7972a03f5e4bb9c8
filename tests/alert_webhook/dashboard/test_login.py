"""dashboard/login.py: operators log in with a name and password; the session
cookie is HttpOnly and SameSite, lasts a bounded time, and the form is CSRF-checked."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webhook_support import (
    CONTACTS,
    OPERATOR_PASSWORD,
    SECRET_KEY,
    csrf_token,
    log_in,
    make_alert,
    make_notification,
    with_operator,
)
from werkzeug.security import generate_password_hash

from alert_webhook.config.settings import ConfigError
from alert_webhook.web.auth import SESSION_COOKIE, current_operator


def _operator(client):
    """Who the app sees logged in on `client`'s next request."""
    with client:
        client.get("/healthz")
        return current_operator()


def test_the_login_page_is_a_form_with_a_csrf_token_and_no_script(app_factory) -> None:
    client = app_factory(with_operator(), SECRET_KEY).test_client()
    resp = client.get("/login")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "text/html" in resp.content_type
    assert 'name="name"' in page and 'type="password"' in page and csrf_token(page)
    assert "<script" not in page and "style=" not in page
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]


def test_a_login_sets_an_httponly_samesite_cookie_and_names_the_operator(app_factory) -> None:
    client = app_factory(with_operator(), SECRET_KEY).test_client()
    resp = log_in(client)
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert _operator(client) == "alice"
    assert "alice" in client.get("/").get_data(as_text=True)


def test_behind_https_the_cookie_is_secure(app_factory) -> None:
    data = with_operator({"links": {"dashboard_url": "https://alerts.example.org/"}})
    client = app_factory(data, SECRET_KEY).test_client()
    page = client.get("/login", base_url="https://alerts.example.org").get_data(as_text=True)
    token = csrf_token(page)
    resp = client.post(
        "/login",
        data={"name": "alice", "password": OPERATOR_PASSWORD, "csrf_token": token},
        base_url="https://alerts.example.org",
        headers={"Referer": "https://alerts.example.org/login"},
    )
    assert resp.status_code == 303, resp.get_data(as_text=True)
    assert "Secure" in resp.headers["Set-Cookie"]


def test_a_wrong_password_or_name_is_401_html_and_logs_nobody_in(app_factory, caplog) -> None:
    client = app_factory(with_operator(), SECRET_KEY).test_client()
    for name, password in (("alice", "wrong password"), ("mallory", OPERATOR_PASSWORD)):
        resp = log_in(client, name, password)
        assert resp.status_code == 401 and "text/html" in resp.content_type
        page = resp.get_data(as_text=True)
        assert "wrong name or password" in page and password not in page
        assert _operator(client) is None
    assert "login refused for operator 'mallory'" in caplog.text
    assert OPERATOR_PASSWORD not in caplog.text and "wrong password" not in caplog.text


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(max_size=80), password=st.text(max_size=80), next_=st.text(max_size=40))
def test_any_form_input_is_a_page_never_a_5xx(app_factory, name, password, next_) -> None:
    client = app_factory(with_operator(), SECRET_KEY).test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    form = {"name": name, "password": password, "next": next_, "csrf_token": token}
    resp = client.post("/login", data=form)
    assert resp.status_code in (303, 400, 401, 429)
    if resp.status_code != 303:
        assert "text/html" in resp.content_type


def test_missing_fields_are_400_html_naming_them(app_factory) -> None:
    client = app_factory(with_operator(), SECRET_KEY).test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"name": "", "csrf_token": token})
    assert resp.status_code == 400 and "text/html" in resp.content_type
    page = resp.get_data(as_text=True)
    assert "name: required" in page and "password: required" in page


def test_a_login_post_without_the_forms_csrf_token_is_refused(app_factory) -> None:
    # Login CSRF: another site must not log a browser in as the attacker's operator.
    client = app_factory(with_operator(), SECRET_KEY).test_client()
    resp = client.post("/login", data={"name": "alice", "password": OPERATOR_PASSWORD})
    assert resp.status_code == 400 and "text/html" in resp.content_type
    assert "reload" in resp.get_data(as_text=True)
    assert _operator(client) is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/api/incidents", "/api/incidents"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
    ],
)
def test_after_login_only_a_local_next_is_followed(app_factory, given, expected) -> None:
    client = app_factory(with_operator(), SECRET_KEY).test_client()
    token = csrf_token(client.get(f"/login?next={given}").get_data(as_text=True))
    form = {"name": "alice", "password": OPERATOR_PASSWORD, "csrf_token": token, "next": given}
    resp = client.post("/login", data=form)
    assert resp.status_code == 303 and resp.headers["Location"] == expected


def test_a_session_ends_after_its_lifetime(app_factory, clock) -> None:
    app = app_factory(with_operator(CONTACTS, session_lifetime_seconds=600), SECRET_KEY)
    client = app.test_client()
    client.post("/alerts", json=make_notification(make_alert("a")))
    log_in(client)
    clock.advance(599)
    assert _operator(client) == "alice"
    clock.advance(2)
    assert _operator(client) is None
    page = client.get("/").get_data(as_text=True)
    assert "Log in to acknowledge" in page


def test_a_new_password_ends_the_old_sessions(app_factory) -> None:
    client = app_factory(with_operator(), SECRET_KEY).test_client()
    log_in(client)
    cookie = client.get_cookie(SESSION_COOKIE)
    assert cookie is not None
    # The webhook restarted with the same signing key and alice's new password.
    changed = with_operator()
    changed["auth"]["operators"]["alice"] = generate_password_hash("a new password")
    restarted = app_factory(changed, SECRET_KEY).test_client()
    restarted.set_cookie(SESSION_COOKIE, cookie.value)
    assert _operator(restarted) is None
    same = app_factory(with_operator(), SECRET_KEY).test_client()
    same.set_cookie(SESSION_COOKIE, cookie.value)
    assert _operator(same) == "alice"


def test_logout_needs_the_csrf_token_and_ends_the_session(app_factory) -> None:
    client = app_factory(with_operator(), SECRET_KEY).test_client()
    log_in(client)
    assert client.post("/logout").status_code == 400
    assert _operator(client) == "alice"
    token = csrf_token(client.get("/").get_data(as_text=True))
    resp = client.post("/logout", data={"csrf_token": token})
    assert resp.status_code == 303 and resp.headers["Location"] == "/login"
    assert _operator(client) is None


def test_without_operators_the_page_says_how_to_add_one(client) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert "python -m alert_webhook user add" in page
    resp = log_in(client, "alice", OPERATOR_PASSWORD)
    assert resp.status_code == 401


# --- Back-off after failed logins, and one password check at a time ---

LIMITS = {"free_failures": 3, "first_backoff_seconds": 10, "max_backoff_seconds": 60}


def _attempt(client, name: str, password: str, address: str = "127.0.0.1"):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    form = {"name": name, "password": password, "csrf_token": token}
    return client.post("/login", data=form, environ_base={"REMOTE_ADDR": address})


def test_after_a_few_wrong_passwords_the_name_is_answered_429_until_the_back_off_passes(
    app_factory, clock
) -> None:
    client = app_factory(with_operator(login_limits=LIMITS), SECRET_KEY).test_client()
    for n in range(3):
        assert _attempt(client, "alice", "wrong", f"10.0.0.{n}").status_code == 401
    # Even the right password is not checked while the name is backed off.
    refused = _attempt(client, "alice", OPERATOR_PASSWORD, "10.0.0.9")
    assert refused.status_code == 429 and "text/html" in refused.content_type
    assert refused.headers["Retry-After"] == "10"
    page = refused.get_data(as_text=True)
    assert "Too many failed logins" in page and "10 seconds" in page
    assert OPERATOR_PASSWORD not in page
    assert _operator(client) is None
    clock.advance(4)
    assert _attempt(client, "alice", "wrong", "10.0.0.9").headers["Retry-After"] == "6"
    clock.advance(6)
    # Attempts refused during the back-off did not lengthen it.
    assert _attempt(client, "alice", OPERATOR_PASSWORD, "10.0.0.9").status_code == 303
    assert _operator(client) == "alice"


def test_one_address_trying_many_names_is_backed_off(app_factory) -> None:
    client = app_factory(with_operator(login_limits=LIMITS), SECRET_KEY).test_client()
    for name in ("bob", "carol", "dave"):
        assert _attempt(client, name, "guess", "10.0.0.66").status_code == 401
    assert _attempt(client, "alice", OPERATOR_PASSWORD, "10.0.0.66").status_code == 429
    assert _attempt(client, "alice", OPERATOR_PASSWORD, "10.0.0.1").status_code == 303


def test_while_a_password_check_runs_another_login_is_429_at_once(app_factory) -> None:
    app = app_factory(with_operator(), SECRET_KEY)
    client = app.test_client()
    with app.extensions["alert_webhook"].access.logins.checks.slot() as held:
        assert held
        busy = _attempt(client, "alice", OPERATOR_PASSWORD)
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
    assert "checking other logins" in busy.get_data(as_text=True)
    assert _attempt(client, "alice", OPERATOR_PASSWORD).status_code == 303


def test_each_attempt_is_logged_with_name_address_and_outcome_not_the_password(
    app_factory, caplog
) -> None:
    caplog.set_level("INFO")
    client = app_factory(with_operator(login_limits=LIMITS), SECRET_KEY).test_client()
    for _ in range(4):
        _attempt(client, "alice", "s3cret-guess", "10.0.0.5")
    text = caplog.text
    assert "login refused for operator 'alice' from 10.0.0.5: wrong name or password" in text
    assert "login refused for operator 'alice' from 10.0.0.5: backed off for 10 s" in text
    _attempt(client, "bob", "other-guess", "10.0.0.6")
    assert "s3cret-guess" not in caplog.text and "other-guess" not in caplog.text


def test_a_bad_limit_setting_is_a_config_error_naming_it(app_factory) -> None:
    with pytest.raises(ConfigError) as exc:
        app_factory(with_operator(login_limits={"concurrent_checks": 0}), SECRET_KEY)
    assert "auth.login_limits.concurrent_checks" in str(exc.value)
