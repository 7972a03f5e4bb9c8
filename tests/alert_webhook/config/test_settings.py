"""settings.py: YAML + environment → typed settings, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from alert_webhook.config.environment import DATABASE_URL_ENV
from alert_webhook.config.settings import (
    TOKEN_ENV,
    ConfigError,
    check_bind,
    load_settings,
    settings_from_mapping,
)

ROOT = Path(__file__).resolve().parents[3]


def test_defaults_without_a_file() -> None:
    s = load_settings(None, {})
    assert s.store.url.startswith("sqlite:///")
    assert s.token is None


def test_shipped_config_is_valid() -> None:
    s = load_settings(ROOT / "alert_webhook" / "webhook.yml", {})
    assert s.max_body_bytes > 0


@pytest.mark.parametrize("value", [0, -15, "often"])
def test_the_silence_check_interval_is_a_positive_number(value) -> None:
    assert settings_from_mapping({}, {}).incidents.silence_check_seconds == 15.0
    with pytest.raises(ConfigError) as exc:
        settings_from_mapping({"incidents": {"silence_check_seconds": value}}, {}, "w.yml")
    assert any("incidents.silence_check_seconds" in line for line in exc.value.lines)


def test_secrets_come_from_the_environment(tmp_path: Path) -> None:
    s = settings_from_mapping(
        {}, {TOKEN_ENV: "s3cret", DATABASE_URL_ENV: "postgresql://u:p@db.example.org/x"}
    )
    assert s.token is not None and s.token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s)
    assert s.store.url == "postgresql://u:p@db.example.org/x"


def test_token_in_yaml_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = tmp_path / "w.yml"
    path.write_text("token: hunter2\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, {})
    assert exc.value.lines == [
        f"{path}: token: secrets are not read from files; set {TOKEN_ENV} instead"
    ]
    assert "hunter2" not in str(exc.value)


def test_all_problems_reported_at_once_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "w.yml"
    path.write_text("max_body_bytes: -1\nstore: {url: 5, colour: red}\nbogus: 1\ntoken: x\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, {})
    text = "\n".join(exc.value.lines)
    for key in ("max_body_bytes", "store.url", "store.colour", "bogus", "token"):
        assert f"{path}: {key}" in text


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: [1,\n", "invalid YAML"),
        ("- 1\n- 2\n", "must be a mapping"),
    ],
)
def test_unreadable_yaml(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "w.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_settings(path, {})
    assert problem in exc.value.lines[0]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path / "absent.yml", {})
    assert exc.value.lines == [f"{tmp_path / 'absent.yml'}: file not found"]


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    path = tmp_path / "w.yml"
    path.write_text("")
    assert load_settings(path, {}).token is None


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_loopback_bind_without_token_is_allowed(host: str) -> None:
    check_bind(host, settings_from_mapping({}, {}))


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.org", ""])
def test_other_binds_need_a_token(host: str) -> None:
    with pytest.raises(ConfigError):
        check_bind(host, settings_from_mapping({}, {}))
    check_bind(host, settings_from_mapping({}, {TOKEN_ENV: "t"}))


FIXTURES = ROOT / "tests" / "fixtures" / "alert_webhook"


def test_notification_settings_errors_all_at_once_never_echoing_secrets() -> None:
    path = FIXTURES / "bad-notify.yml"
    with pytest.raises(ConfigError) as exc:
        load_settings(path, {})
    text = "\n".join(exc.value.lines)
    for key in (
        "routing.severity_channels.critical[0]",
        "channels.email.providers[0].port",
        "channels.email.providers[0].security",
        "channels.sms.providers[0].from_number",
        "channels.sms.providers[0].auth_token",
        "delivery.retry.max_attempts",
        "incidents",
    ):
        assert f"{path}: {key}" in text
    assert "hunter2" not in text


def test_provider_credentials_come_from_the_named_environment_variables() -> None:
    data = {
        "channels": {
            "email": {"providers": [{"name": "r", "host": "h", "password_env": "SMTP_PASSWORD"}]},
            "sms": {"providers": [{"name": "t", "from_number": "+15555550000"}]},
        }
    }
    env = {"SMTP_PASSWORD": "pw", "TWILIO_ACCOUNT_SID": "AC1", "UNRELATED": "x"}
    s = settings_from_mapping(data, env)
    assert s.secret("SMTP_PASSWORD") == "pw" and s.secret("TWILIO_ACCOUNT_SID") == "AC1"
    assert s.secret("TWILIO_AUTH_TOKEN") is None and s.secret("UNRELATED") is None
    assert "pw" not in repr(s)


def test_secrets_key_in_yaml_is_refused() -> None:
    with pytest.raises(ConfigError) as exc:
        settings_from_mapping({"secrets": {"X": "y"}}, {})
    assert "secrets" in exc.value.lines[0]


def test_cli_check_exits_2_with_one_line_per_problem(capsys) -> None:
    from alert_webhook.cli.serve import main

    assert main(["--config", str(FIXTURES / "bad-notify.yml"), "--check"], env={}) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 7 and all(line.startswith("alert_webhook: ") for line in err)
    assert "Traceback" not in "\n".join(err)
    assert main(["--config", str(ROOT / "alert_webhook" / "webhook.yml"), "--check"], env={}) == 0
    assert main(["--bind", "0.0.0.0:9095", "--check"], env={}) == 2


@pytest.mark.parametrize("token", ["   ", "\t", " \n "])
def test_an_all_whitespace_token_is_a_config_error(token: str) -> None:
    """A blank token would let in any request whose header is blank too."""
    with pytest.raises(ConfigError) as exc:
        settings_from_mapping({}, {TOKEN_ENV: token})
    [problem] = exc.value.problems
    assert TOKEN_ENV in problem and "whitespace" in problem


def test_an_empty_token_is_no_token() -> None:
    assert settings_from_mapping({}, {TOKEN_ENV: ""}).token is None


def test_acknowledging_from_the_phone_settings_are_checked_all_at_once() -> None:
    data = {
        "links": {"public_url": "alerts.example.org", "ack_link_lifetime_seconds": 0},
        "channels": {"sms": {"names": {"555-0100": "alice", "+15555550100": "x" * 65}}},
    }
    with pytest.raises(ConfigError) as exc:
        settings_from_mapping(data, {}, "webhook.yml")
    text = "\n".join(exc.value.lines)
    assert "webhook.yml: links.public_url" in text and "http" in text
    assert "webhook.yml: links.ack_link_lifetime_seconds" in text
    assert "webhook.yml: channels.sms.names" in text and "'555-0100'" in text


def test_sms_numbers_that_are_not_full_international_ones_are_refused() -> None:
    sms = {
        "recipients": ["+15555550100", "555-0100"],
        "escalation_recipients": ["call bob"],
        "providers": [{"name": "t1", "from_number": "5550000"}],
    }
    data = {"channels": {"sms": sms}}
    with pytest.raises(ConfigError) as exc:
        settings_from_mapping(data, {}, "webhook.yml")
    text = "\n".join(exc.value.lines)
    assert "webhook.yml: channels.sms.recipients" in text and "'555-0100'" in text
    assert "'+15555550100'" not in text
    assert "channels.sms.escalation_recipients" in text and "'call bob'" in text
    assert "channels.sms.providers[0].from_number" in text and "'5550000'" in text


def test_sms_names_are_keyed_by_e164_number_however_written() -> None:
    data = {"channels": {"sms": {"names": {"+1 (555) 555-0100": "alice"}}}}
    s = settings_from_mapping(data, {})
    assert s.channels.sms.names == {"+15555550100": "alice"}
    assert s.links.public_url is None and s.links.ack_link_lifetime_seconds == 86400


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("request_deadline_seconds", 0),
        ("connections_per_address", 0),
        ("connections_per_address", "many"),
    ],
)
def test_the_fronts_limits_are_positive_numbers(key: str, value: object) -> None:
    front = settings_from_mapping({}, {}).front
    assert (front.request_deadline_seconds, front.connections_per_address) == (30.0, 100)
    with pytest.raises(ConfigError) as exc:
        settings_from_mapping({"front": {key: value}}, {}, "w.yml")
    assert any(f"front.{key}" in line for line in exc.value.lines)
