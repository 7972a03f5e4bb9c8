"""cli/incidents.py: `python -m alert_webhook incidents` lists open incidents and
`… ack ID` acknowledges, through the JSON API of a real webhook server on a free
port with the bearer token; every failure is one line on stderr and an exit
status, never a traceback."""

from __future__ import annotations

import subprocess
import sys
import threading
import urllib.error
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml
from support.procs import free_port, python_module, running
from webhook_support import make_alert, make_notification

from alert_webhook.cli.incidents import EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE, URL_ENV, main
from alert_webhook.config.environment import TOKEN_ENV

pytestmark = pytest.mark.integration
TOKEN = "cli-test-token"


@pytest.fixture(scope="module")
def webhook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A webhook server with three incidents: 1 and 2 open, 3 resolved."""
    home: Path = tmp_path_factory.mktemp("webhook")
    config = home / "webhook.yml"
    config.write_text(yaml.safe_dump({"store": {"url": f"sqlite:///{home}/store.sqlite3"}}))
    url = f"http://127.0.0.1:{free_port()}"
    argv = python_module("alert_webhook", f"--config={config}", f"--bind={url[7:]}")
    with running("webhook", argv, home, ready_url=f"{url}/readyz", env={TOKEN_ENV: TOKEN}):
        alerts = [
            make_alert("a", severity="critical", service="orders"),
            make_alert("b", severity="high", alertname="DiskFilling\x1b[31m", instance="db2"),
            make_alert("c", severity="low", alertname="Gone"),
        ]
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for body in (make_notification(*alerts), make_notification(make_alert("c", "resolved"))):
            requests.post(f"{url}/alerts", json=body, headers=auth, timeout=5).raise_for_status()
        yield url


def _env(url: str, token: str = TOKEN) -> dict[str, str]:
    return {URL_ENV: url, TOKEN_ENV: token, "USER": "carol"}


def test_the_list_shows_open_incidents_only_most_severe_first(webhook, capsys) -> None:
    assert main([], _env(webhook)) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["ID", "SEVERITY", "OPENED"]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2"]
    assert "DemoServiceDown" in lines[1] and "orders" in lines[1]
    assert "DiskFilling" in lines[2] and "db2" in lines[2]
    assert "\x1b" not in out  # a label value never drives the terminal
    assert "Gone" not in out


def test_ack_acknowledges_in_the_users_name(webhook, capsys) -> None:
    assert main(["ack", "2"], _env(webhook)) == 0
    assert "incident 2 acknowledged by carol" in capsys.readouterr().out
    [row] = [i for i in requests.get(f"{webhook}/api/incidents", timeout=5).json()["incidents"]
             if i["alert_id"] == 2]  # fmt: skip
    assert row["acked_by"] == "carol"
    assert main(["ack", "2", "--by", "dave"], _env(webhook)) == 0  # the first one stands
    assert "already acknowledged by carol" in capsys.readouterr().out
    assert main([], _env(webhook)) == 0
    assert "acked by carol" in capsys.readouterr().out


def test_an_unknown_incident_is_a_clear_error(webhook, capsys) -> None:
    assert main(["ack", "99"], _env(webhook)) == EXIT_REFUSED
    assert capsys.readouterr().err.strip() == "incidents: no incident 99 (HTTP 404)"
    assert main(["ack", str(2**63)], _env(webhook)) == EXIT_REFUSED
    assert "HTTP 404" in capsys.readouterr().err


def test_a_wrong_token_names_the_variable(webhook, capsys, tmp_path) -> None:
    """(Listing needs no token here: viewing is open on loopback.)"""
    for token in ("not-the-token-xyz", ""):
        assert main(["ack", "1"], _env(webhook, token=token), root=tmp_path) == EXIT_REFUSED
        err = capsys.readouterr().err
        assert "HTTP 401" in err and TOKEN_ENV in err and "not-the-token-xyz" not in err


def _checkout(root: Path, token: str) -> Path:
    """What `make up` leaves in the checkout it runs from: the webhook's token."""
    (root / "var" / "run").mkdir(parents=True)
    (root / "var" / "run" / "webhook-token").write_text(token + "\n")
    return root


def test_no_token_says_where_a_make_up_stack_keeps_it(webhook, capsys, tmp_path) -> None:
    env = {URL_ENV: webhook, "USER": "carol"}
    assert main(["ack", "1"], env, root=tmp_path) == EXIT_REFUSED
    err = capsys.readouterr().err
    assert TOKEN_ENV in err and "var/run/webhook-token" in err and err.count("\n") == 1


def test_without_the_variable_the_local_stacks_token_file_is_used(webhook, capsys, tmp_path):
    root = _checkout(tmp_path, TOKEN)
    assert main(["ack", "1"], {URL_ENV: webhook, "USER": "erin"}, root=root) == 0
    captured = capsys.readouterr()
    assert "incident 1 acknowledged by" in captured.out
    assert TOKEN not in captured.out + captured.err


def test_a_token_file_that_is_refused_is_named_not_shown(webhook, capsys, tmp_path) -> None:
    root = _checkout(tmp_path, "another-stacks-token")
    assert main(["ack", "1"], {URL_ENV: webhook}, root=root) == EXIT_REFUSED
    err = capsys.readouterr().err
    assert str(root / "var" / "run" / "webhook-token") in err and TOKEN_ENV in err
    assert "another-stacks-token" not in err


def test_the_token_file_is_never_sent_off_this_machine(tmp_path, capsys) -> None:
    root, sent = _checkout(tmp_path, "local-secret"), []

    def opener(request, timeout):
        sent.append(dict(request.header_items()))
        raise urllib.error.URLError("no network in this test")

    url = "https://webhook.example.org"
    assert main(["ack", "1"], {URL_ENV: url}, opener=opener, root=root) == EXIT_UNREACHABLE
    assert sent and all("Authorization" not in headers for headers in sent)


def test_an_unreachable_webhook_is_a_clear_error(capsys) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["--url", url], _env("http://ignored.invalid")) == EXIT_UNREACHABLE
    err = capsys.readouterr().err
    assert err.startswith(f"incidents: cannot reach the webhook at {url}") and "Trace" not in err


@pytest.mark.parametrize(
    ("argv", "problem"),
    [(["ack", "abc"], "invalid int value"), (["--url", "ftp://x"], "--url: must be"),
     (["--url", "127.0.0.1:9095"], "--url: must be")],
)  # fmt: skip
def test_bad_arguments_exit_2(argv, problem, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv, _env("http://127.0.0.1:9"))
    assert exc.value.code == EXIT_USAGE and problem in capsys.readouterr().err


def test_the_url_flag_wins_over_the_environment(webhook, capsys) -> None:
    assert main(["--url", webhook], _env(f"http://127.0.0.1:{free_port()}")) == 0
    assert "DemoServiceDown" in capsys.readouterr().out


def test_python_dash_m_runs_it(webhook) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "alert_webhook", "incidents", "--url", webhook],
        env={"PATH": "/usr/bin:/bin", TOKEN_ENV: TOKEN}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "DemoServiceDown" in done.stdout


def test_something_else_than_the_webhook_is_named(tmp_path, capsys) -> None:
    """A plain web server that answers the API's path with text."""
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "incidents").write_text("<html>not the webhook</html>")
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}"
            assert main(["--url", url], _env(url)) == EXIT_UNREACHABLE
        finally:
            server.shutdown()
            thread.join(10)
    assert "answered something other than JSON" in capsys.readouterr().err


def test_a_services_alerts_are_one_incident_and_ack_covers_those_open_now(webhook, capsys) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def fire(fingerprint: str, severity: str, alertname: str) -> None:
        body = make_notification(make_alert(fingerprint, severity=severity, alertname=alertname,
                                            service="payments"))  # fmt: skip
        requests.post(f"{webhook}/alerts", json=body, headers=auth, timeout=5).raise_for_status()

    fire("p1", "medium", "PaymentsSlow")
    fire("p2", "high", "PaymentsErrors")
    assert main([], _env(webhook)) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if "payments" in x]
    assert "PaymentsErrors (+1 more)" in line and line.endswith("2 unacked, tier 1")
    headline = line.split()[0]
    assert main(["ack", headline], _env(webhook)) == 0
    assert f"incident {headline} acknowledged by carol with 1 more alert" in capsys.readouterr().out
    fire("p3", "medium", "PaymentsQueue")  # fires after the acknowledgement
    assert main([], _env(webhook)) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if "payments" in x]
    assert "(+2 more)" in line and line.endswith("1 unacked, tier 1")


def test_report_prints_a_closed_incidents_markdown(webhook, capsys) -> None:
    assert main(["report", "3"], _env(webhook)) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Post-incident report: incident 3, ")
    assert "- **Time to resolve:** " in out and "## Follow-ups" in out


def test_report_of_an_open_or_unknown_incident_is_one_clear_line(webhook, capsys) -> None:
    assert main(["report", "1"], _env(webhook)) == EXIT_REFUSED
    err = capsys.readouterr().err.strip()
    assert err.startswith("incidents: incident 1 is still open (1 alert firing, since ")
    assert err.endswith("its report is written once it closes (HTTP 409)")
    assert main(["report", "99"], _env(webhook)) == EXIT_REFUSED
    assert capsys.readouterr().err.strip() == (
        "incidents: no incident 99: no alert has that id (HTTP 404)"
    )
