"""`python -m stack hosts`: Prometheus's view of each exporter when it has one, the
exporter itself asked otherwise; the exit status says whether all are up.
(Against a real Prometheus and exporter: tests/integration/test_fleet_targets.py.)"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from stack import hosts as stack_hosts
from stack.ports import ports_from_env
from stack.targets import render_fleet
from stack.up import main

PORTS = ports_from_env({})
INVENTORY = "[web]\nweb-1 ansible_host=10.0.0.7\n[db]\ndb-1 ansible_host=10.0.0.8\n"


@dataclass
class Answer:
    status_code: int = 200
    body: Any = None

    def json(self) -> Any:
        if self.body is None:
            raise ValueError("not JSON")
        return self.body


class FakeHttp:
    """Answers by URL prefix; anything else is a refused connection."""

    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, float]] = []

    def get(self, url: str, *, timeout: float) -> Answer:
        self.asked.append((url, timeout))
        for prefix, answer in self.answers.items():
            if url.startswith(prefix):
                return answer
        raise requests.ConnectionError(url)


def targets_api(*targets: tuple[str, str, str]) -> Answer:
    active = [
        {"labels": {"job": job, "instance": instance}, "health": health, "lastError": ""}
        for job, instance, health in targets
    ]
    return Answer(body={"status": "success", "data": {"activeTargets": active}})


def run(tmp_path: Path, http: FakeHttp, inventory: Path | None = None) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = stack_hosts.hosts(tmp_path, {}, inventory, out=out, http=http)
    return code, out.getvalue().splitlines()


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "hosts"
    path.write_text(INVENTORY)
    return path


def test_prometheus_says_which_exporters_are_up(tmp_path: Path, inventory: Path) -> None:
    http = FakeHttp(
        {
            "http://127.0.0.1:9090/api/v1/targets": targets_api(
                ("system", "10.0.0.7:9101", "up"),
                ("system", "10.0.0.8:9101", "up"),
                ("system", "127.0.0.1:9101", "up"),
                ("demo", "10.0.0.8:9101", "down"),  # another job's target: not the exporter
            )
        }
    )
    code, lines = run(tmp_path, http, inventory)
    assert code == 0
    assert lines[0].split() == ["HOST", "ADDRESS", "GROUPS", "EXPORTER", "STATE", "FROM", "DETAIL"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["web-1"] == ["web-1", "10.0.0.7", "web", "10.0.0.7:9101", "up", "prometheus"]
    assert rows["localhost"][2] == "-"
    assert [url for url, _ in http.asked] == ["http://127.0.0.1:9090/api/v1/targets?state=active"]


def test_one_down_exporter_fails_the_exit_status(tmp_path: Path, inventory: Path) -> None:
    http = FakeHttp(
        {
            "http://127.0.0.1:9090/": targets_api(
                ("system", "10.0.0.7:9101", "up"),
                ("system", "10.0.0.8:9101", "down"),
                ("system", "127.0.0.1:9101", "up"),
            )
        }
    )
    code, lines = run(tmp_path, http, inventory)
    assert code == 1
    assert [line.split()[4] for line in lines[1:]] == ["up", "down", "up"]


def test_without_prometheus_each_exporter_is_asked_with_a_short_timeout(
    tmp_path: Path, inventory: Path
) -> None:
    http = FakeHttp(
        {"http://10.0.0.7:9101/metrics": Answer(200), "http://127.0.0.1:9101/": Answer(503)}
    )
    code, lines = run(tmp_path, http, inventory)
    assert code == 1
    rows = {line.split()[0]: line.split()[4:] for line in lines[1:]}
    assert rows == {
        "web-1": ["up", "exporter"],
        "db-1": ["down", "exporter", "ConnectionError"],
        "localhost": ["down", "exporter", "HTTP", "503"],
    }
    assert all(timeout <= 2.0 for _, timeout in http.asked)


def test_a_target_prometheus_has_not_scraped_yet_is_asked_directly(tmp_path: Path) -> None:
    http = FakeHttp(
        {
            "http://127.0.0.1:9090/": targets_api(("system", "127.0.0.1:9101", "unknown")),
            "http://127.0.0.1:9101/metrics": Answer(200),
        }
    )
    code, lines = run(tmp_path, http)
    assert code == 0
    assert lines[1].split()[4:] == ["up", "exporter"]


def test_the_running_stacks_inventory_and_ports_are_the_default(
    tmp_path: Path, inventory: Path
) -> None:
    render_fleet(
        tmp_path, ports_from_env({"PROMETHEUS_PORT": "19090", "SYSTEM_EXPORTER_PORT": "19101"}),
        inventory,
    )  # fmt: skip
    http = FakeHttp({"http://127.0.0.1:19090/": targets_api()})
    code, lines = run(tmp_path, http)
    assert [line.split()[3] for line in lines[1:]] == [
        "10.0.0.7:9101", "10.0.0.8:9101", "127.0.0.1:19101"
    ]  # fmt: skip
    assert code == 1


@pytest.mark.parametrize(
    ("text", "problem"),
    [(None, "file not found"), ("[web]\nbad ansible_port=x\n", "host bad: ansible_port")],
)
def test_a_missing_or_broken_inventory_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | None, problem: str
) -> None:
    path = tmp_path / "hosts"
    if text is not None:
        path.write_text(text)
    assert main(["hosts", "--root", str(tmp_path), "--inventory", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"stack hosts: {path}: ") and problem in err
    assert "Traceback" not in err


def test_prometheus_scrape_errors_are_cut_to_their_cause() -> None:
    error = 'Get "http://10.0.0.7:9101/metrics": dial tcp 10.0.0.7:9101: connect: '
    error += "connection refused"
    assert stack_hosts._last_words(error) == "connection refused"
    assert stack_hosts._last_words("") == ""
