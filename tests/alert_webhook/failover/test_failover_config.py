"""failover/config.py: the settings' `failover:` section, checked at start-up
with the key of each problem named."""

from __future__ import annotations

from typing import Any

import pytest

from alert_webhook.config.settings import load_settings, settings_from_mapping
from alert_webhook.failover.config import Backend, CommandMechanism, command_argv
from toolkit.config import ConfigError


def backend(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "health": {"url": f"http://{name}.internal:8008/health"}, **extra}


def problems(failover: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping({"failover": failover}, {}, "webhook.yml")
    return caught.value.lines


def test_a_chain_with_an_http_mechanism_is_read() -> None:
    settings = settings_from_mapping(
        {
            "failover": {
                "services": {
                    "orders-db": {
                        "backends": [backend("db-a"), backend("db-b"), backend("db-c")],
                        "http": {"url": "http://lb.internal/pools/orders/{backend}"},
                        "switch_back_after": "5m",
                    }
                }
            }
        },
        {},
    )
    service = settings.failover.services["orders-db"]
    assert [b.name for b in service.backends] == ["db-a", "db-b", "db-c"]
    assert (service.primary.name, service.mechanism, service.switch_back_after) == (
        "db-a", "http", 300.0,
    )  # fmt: skip


def test_every_problem_is_named_at_once_with_its_file_and_key(tmp_path) -> None:
    path = tmp_path / "webhook.yml"
    path.write_text(
        """
failover:
  services:
    web:
      backends:
        - {name: a, health: {url: "ftp://a/health"}}
        - {name: "b;rm", health: {url: "http://b/health"}}
      command: {argv: [switch-web]}
    "bad/name":
      backends: []
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    lines = caught.value.lines
    web = f"{path}: failover.services.web"
    assert f"{web}.backends[0].health.url: must be an http:// or https:// URL with a host" in lines
    assert any(
        line.startswith(f"{path}: failover.services.web.backends[1].name:") for line in lines
    )
    assert f"{web}.command.argv: must be an absolute path" in lines
    assert any("failover.services.bad/name" in line for line in lines)


def test_one_mechanism_exactly() -> None:
    both = {"backends": [backend("a"), backend("b")], "http": {"url": "http://lb/{backend}"},
            "command": {"argv": ["/usr/local/bin/switch"]}}  # fmt: skip
    assert problems({"services": {"web": both}}) == [
        "webhook.yml: failover.services.web: give exactly one mechanism: http, command or symlink"
    ]


def test_duplicate_backends_and_a_missing_address_are_refused() -> None:
    service = {"backends": [backend("a"), backend("a", address="10.0.0.2:80")],
               "http": {"url": "http://lb/{address}"}}  # fmt: skip
    (line,) = problems({"services": {"web": service}})
    assert "backend 'a': the mechanism uses {address}; give one" in line
    assert "backend 'a' is listed twice" in line


def test_a_url_a_backend_makes_invalid_is_named_with_that_backend() -> None:
    service = {"backends": [backend("a"), backend("b")], "http": {"url": "http://lb:{backend}/"}}
    (line,) = problems({"services": {"web": service}})
    assert "backend 'a': http.url: has an invalid port" in line


def test_symlink_paths_stay_under_the_roots() -> None:
    service = {
        "backends": [backend("a", path="/srv/app/releases/a"), backend("b", path="/etc/b"),
                     backend("c")],
        "symlink": {"link": "/srv/app/current", "roots": ["/srv/app"]},
    }  # fmt: skip
    (line,) = problems({"services": {"web": service}})
    assert "backend 'b': path '/etc/b' is not under the roots" in line
    assert "backend 'c': the symlink mechanism needs its path" in line


@pytest.mark.parametrize(
    ("symlink", "problem"),
    [
        ({"link": "/srv/app/../etc/current", "roots": ["/srv/app"]}, "must not hold '..'"),
        ({"link": "current", "roots": ["/srv/app"]}, "must be an absolute path"),
        ({"link": "/etc/current", "roots": ["/srv/app"]}, "must be below one of the roots"),
        ({"link": "/current", "roots": ["/"]}, "/ is not a root"),
    ],
)
def test_a_link_outside_its_roots_is_refused(symlink: dict[str, Any], problem: str) -> None:
    service = {"backends": [backend("a", path="/srv/app/a"), backend("b", path="/srv/app/b")],
               "symlink": symlink}  # fmt: skip
    assert problem in " ".join(problems({"services": {"web": service}}))


def test_a_command_gets_the_backend_in_its_placeholders_or_last() -> None:
    chosen = Backend.model_validate(backend("db-b", address="10.0.0.12:5432"))
    appended = CommandMechanism(argv=["/usr/local/bin/switch-db", "--pool", "orders"])
    assert command_argv(appended, chosen) == [
        "/usr/local/bin/switch-db",
        "--pool",
        "orders",
        "db-b",
    ]
    placed = CommandMechanism(argv=["/usr/local/bin/switch-db", "--to={address}", "{backend}"])
    assert command_argv(placed, chosen) == [
        "/usr/local/bin/switch-db",
        "--to=10.0.0.12:5432",
        "db-b",
    ]
    assert "cannot depend on the backend" in " ".join(
        problems({"services": {"w": {"backends": [backend("a"), backend("b")],
                                     "command": {"argv": ["/opt/{backend}/switch"]}}}})
    )  # fmt: skip
