"""web/operators.py and config/auth.py: operators' password hashes in the config,
the signing key from the environment, the host names requests may carry."""

from __future__ import annotations

import pytest
from werkzeug.security import generate_password_hash

from alert_webhook.config.environment import SECRET_KEY_ENV
from alert_webhook.config.settings import ConfigError, settings_from_mapping
from alert_webhook.web.operators import Operators, allowed_hosts

KEY = {SECRET_KEY_ENV: "k" * 32}
HASH = generate_password_hash("correct horse battery")


def test_operators_are_names_with_password_hashes() -> None:
    s = settings_from_mapping({"auth": {"operators": {"alice": HASH}}}, KEY)
    operators = Operators(s.auth.operators)
    assert operators.verify("alice", "correct horse battery")
    assert not operators.verify("alice", "wrong")
    assert not operators.verify("mallory", "correct horse battery")
    assert s.secret_key is not None and "k" * 32 not in repr(s)


def test_a_plain_password_in_the_config_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as exc:
        settings_from_mapping(
            {"auth": {"operators": {"alice": "hunter2hunter2", "b c": HASH}}}, KEY
        )
    text = "\n".join(exc.value.lines)
    assert "auth.operators: " in text
    assert "alice: not a password hash; make one with python -m alert_webhook user add" in text
    assert "'b c': letters, digits" in text
    assert "hunter2" not in text


def test_logins_need_the_signing_key_from_the_environment() -> None:
    with pytest.raises(ConfigError) as exc:
        settings_from_mapping({"auth": {"operators": {"alice": HASH}}}, {})
    assert f"logging in needs {SECRET_KEY_ENV} set" in exc.value.lines[0]
    with pytest.raises(ConfigError) as short:
        settings_from_mapping({}, {SECRET_KEY_ENV: "short"})
    assert "at least 16 characters" in short.value.lines[0]
    with pytest.raises(ConfigError) as in_file:
        settings_from_mapping({"secret_key": "x" * 32}, {})
    assert f"secrets are not read from files; set {SECRET_KEY_ENV}" in in_file.value.lines[0]
    assert "x" * 32 not in in_file.value.lines[0]


def test_a_new_password_changes_the_session_stamp() -> None:
    before = Operators({"alice": HASH})
    after = Operators({"alice": generate_password_hash("another password")})
    assert before.stamp("alice") and before.stamp("alice") != after.stamp("alice")
    assert before.stamp("bob") is None


def test_allowed_hosts_defaults_and_additions() -> None:
    s = settings_from_mapping(
        {"auth": {"allowed_hosts": ["Alerts.Example.org", ".ops.example"]}}, {}
    )
    hosts = allowed_hosts(s.auth, "192.0.2.10", "https://dash.example.org/x")
    assert hosts == [
        "localhost",
        "127.0.0.1",
        "alerts.example.org",
        ".ops.example",
        "192.0.2.10",
        "dash.example.org",
    ]
    # A wildcard address is not a name anyone reaches the webhook by.
    assert "0.0.0.0" not in allowed_hosts(s.auth, "0.0.0.0", "http://127.0.0.1:9095/")


def test_allowed_hosts_are_names_without_ports() -> None:
    with pytest.raises(ConfigError) as exc:
        settings_from_mapping({"auth": {"allowed_hosts": ["a.example:443", "http://b"]}}, {})
    line = exc.value.lines[0]
    assert "auth.allowed_hosts" in line and "'a.example:443'" in line and "'http://b'" in line
