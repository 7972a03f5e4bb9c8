"""settings.py: YAML + environment → typed settings, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from alert_webhook.settings import (
    DATABASE_URL_ENV,
    TOKEN_ENV,
    ConfigError,
    check_bind,
    load_settings,
    settings_from_mapping,
)

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_without_a_file() -> None:
    s = load_settings(None, {})
    assert s.store.url.startswith("sqlite:///")
    assert s.token is None


def test_shipped_config_is_valid() -> None:
    s = load_settings(ROOT / "alert_webhook" / "webhook.yml", {})
    assert s.max_body_bytes > 0


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
    assert exc.value.problems == [
        f"{path}: token: secrets are not read from files; set {TOKEN_ENV} instead"
    ]
    assert "hunter2" not in str(exc.value)


def test_all_problems_reported_at_once_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "w.yml"
    path.write_text("max_body_bytes: -1\nstore: {url: 5, colour: red}\nbogus: 1\ntoken: x\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, {})
    text = "\n".join(exc.value.problems)
    for key in ("max_body_bytes", "store.url", "store.colour", "bogus", "token"):
        assert f"{path}: {key}" in text


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: [1,\n", "invalid YAML at line"),
        ("- 1\n- 2\n", "must be a mapping"),
    ],
)
def test_unreadable_yaml(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "w.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_settings(path, {})
    assert problem in exc.value.problems[0]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path / "absent.yml", {})
    assert "cannot read file" in exc.value.problems[0]


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
