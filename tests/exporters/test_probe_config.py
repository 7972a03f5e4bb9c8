"""The probe file: defaults, resolution, and every error listed with its path."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.procs import python_module

from exporters.probe import DEFAULT_PROBE_FILE
from exporters.probe_config import load_probe_file
from toolkit.config import ConfigError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "exporters"


def test_defaults_follow_the_plan_network_30s_service_60s():
    probes = {
        p.name: p for p in load_probe_file(FIXTURES / "good_probes.yml", {"DB_PASSWORD": "x"})
    }
    assert probes["web"].interval == 30
    assert probes["resolver"].interval == 30
    assert probes["web-port"].interval == 15
    assert probes["worker"].interval == 60
    assert probes["nightly"].interval == 60
    assert probes["db"].timeout == 2
    assert probes["web"].timeout == 5


def test_each_probe_names_the_service_it_watches_and_its_target():
    probes = {
        p.name: p for p in load_probe_file(FIXTURES / "good_probes.yml", {"DB_PASSWORD": "x"})
    }
    # What alerts carry as `service` and `instance`: the probed service's name (the
    # check's own name when the file gives none) and what the check looks at.
    assert {name: (p.service, p.instance) for name, p in probes.items()} == {
        "web": ("demo", "http://127.0.0.1:8081/healthz"),
        "web-port": ("web-port", "127.0.0.1:8081"),
        "resolver": ("resolver", "localhost"),
        "worker": ("worker", "worker"),
        "jobs": ("jobs", "/var/spool/jobs"),
        "db": ("db", "postgresql://monitor@127.0.0.1/app"),
        "nightly": ("nightly", "/var/backups/app"),
    }


def test_shipped_probe_file_is_valid():
    probes = load_probe_file(DEFAULT_PROBE_FILE, {})
    assert {p.kind for p in probes} == {"http", "tcp", "integrity"}
    urls = {str(getattr(p.check, "url", "")) for p in probes}
    assert "http://127.0.0.1:8081/healthz" in urls
    assert "http://127.0.0.1:9095/healthz" in urls
    # The launcher moves ports by rewriting "127.0.0.1:<port>", so every target is written so.
    tcp = [p.check for p in probes if p.kind == "tcp"]
    assert [c.address for c in tcp] == ["127.0.0.1:8081"]  # type: ignore[attr-defined]
    # Probes of the demo and the webhook carry those services' scrape job names, the
    # `service` of their request alerts, so a service that is down mutes them.
    assert {p.name: p.service for p in probes} == {
        "demo-http": "demo",
        "demo-tcp": "demo",
        "webhook-http": "webhook",
        "demo-worker-http": "demo_worker",
        "orders-data": "demo",
        "dependency-primary": "dependency",
        "dependency-secondary": "dependency",
        "dependency-tertiary": "dependency",
    }


def test_every_error_is_listed_with_its_path():
    with pytest.raises(ConfigError) as caught:
        load_probe_file(FIXTURES / "bad_probes.yml", {})
    problems = caught.value.problems
    assert "defaults.timeout: must be a positive duration" in problems
    assert "checks[1]: give address (host:port), or host and port" in problems
    assert "checks[2].timeout: must be a positive duration" in problems
    assert "checks[2].retries: unknown key" in problems
    assert any(p.startswith("checks[3]: ") and "carrier-pigeon" in p for p in problems)
    assert any(p.startswith("checks[4].sql.dsn: must not contain a password") for p in problems)
    assert "checks[3].name: duplicate of checks[0]" in problems
    assert len(problems) == 7, problems


def test_duplicate_names_and_missing_secrets(tmp_path):
    path = tmp_path / "p.yml"
    path.write_text(
        "checks:\n"
        "  - {name: a, kind: tcp, host: h, port: 1}\n"
        "  - {name: a, kind: http, url: 'http://h/', auth: {bearer_token_env: TOKEN}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_probe_file(path, {})
    assert caught.value.problems == [
        "checks[1].name: duplicate of checks[0]",
        "checks[1].auth.bearer_token_env: environment variable TOKEN is not set",
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "file not found"),
        ("checks: [\n", "invalid YAML"),
        ("- just\n- a list\n", "Input should be a valid dictionary"),
        ("checks: [{name: x, kind: service}]\n", "checks[0]: name exactly one of"),
        (
            "checks: [{name: x, kind: queue, directory: {path: /q}, redis: {key: k}}]\n",
            "exactly one",
        ),
        ("checks: [{name: 'a b', kind: tcp, host: h, port: 1}]\n", "checks[0].name:"),
    ],
)
@pytest.mark.integration
def test_cli_exits_2_with_the_problem_and_no_traceback(tmp_path, content, expected):
    path = tmp_path / "probes.yml"
    if content is not None:
        path.write_text(content)
    done = subprocess.run(
        python_module("exporters.probe", "--config", str(path), "--listen", "127.0.0.1:1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert expected in done.stderr
    assert str(path) in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.integration
def test_cli_lists_every_error_of_a_bad_file():
    done = subprocess.run(
        python_module("exporters.probe", "--config", str(FIXTURES / "bad_probes.yml")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 7
    assert all(line.startswith(f"{FIXTURES / 'bad_probes.yml'}: ") for line in lines)


def test_the_documented_example_is_a_valid_probe_file(tmp_path):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "exporters.md").read_text()
    example = next(b for b in doc.split("```yaml\n")[1:] if "checks:" in b).split("```")[0]
    path = tmp_path / "example.yml"
    path.write_text(example)
    env = {"MONITOR_DB_PASSWORD": "x", "REDIS_PASSWORD": "x"}
    probes = load_probe_file(path, env)
    kinds = {p.kind for p in probes}
    assert kinds == {"http", "tcp", "dns", "service", "queue", "db_pool", "backup", "integrity"}


_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
)
_keys = st.sampled_from(
    [
        "name",
        "kind",
        "url",
        "timeout",
        "interval",
        "address",
        "checks",
        "defaults",
        "sql",
        "dsn",
        "x",
    ]
)
_kinds = st.sampled_from(["http", "tcp", "dns", "service", "queue", "db_pool", "backup", "nope"])
_values = st.recursive(
    _scalars | _kinds,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=5),
    max_leaves=20,
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=st.dictionaries(_keys, _values, max_size=4) | _values)
def test_any_document_is_a_probe_list_or_a_config_error(tmp_path, document):
    path = tmp_path / "fuzz.yml"
    path.write_text(yaml.safe_dump(document))
    try:
        probes = load_probe_file(path, {})
    except ConfigError as exc:
        assert exc.problems
        assert all(line.startswith(f"{path}: ") for line in str(exc).splitlines())
    else:
        assert isinstance(probes, list)
