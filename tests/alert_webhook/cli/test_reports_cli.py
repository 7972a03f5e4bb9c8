"""cli/reports.py: `python -m alert_webhook reports noise` prints the webhook's
noise report as text tables (or its JSON), through the API with the bearer
token; hostile label values come out on one line, as text; a bad `--since` is
refused before any request, naming it. The webhook is the app itself, reached
through an opener over Flask's test client (no process, no port)."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from sqlalchemy import update
from webhook_support import CONTACTS, SECRET_KEY, make_alert, make_notification, with_operator

from alert_webhook.cli.incidents import EXIT_REFUSED, EXIT_USAGE, URL_ENV
from alert_webhook.cli.reports import main
from alert_webhook.config.environment import TOKEN_ENV
from alert_webhook.db.schema import deliveries

AUTH = {"Authorization": "Bearer t"}
URL = "http://webhook.test:9095"


class _Answer(io.BytesIO):
    def __enter__(self) -> _Answer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def opener_for(client: Any, seen: list[str]) -> Any:
    def open_(request: urllib.request.Request, timeout: float) -> _Answer:
        path = request.full_url.removeprefix(URL)
        seen.append(path)
        resp = client.open(path, method=request.get_method(), headers=dict(request.header_items()))
        if resp.status_code >= 400:
            raise urllib.error.HTTPError(
                request.full_url, resp.status_code, resp.status, {}, io.BytesIO(resp.data)
            )
        return _Answer(resp.data)

    return open_


@pytest.fixture
def client(app_factory, store, clock):
    settings = with_operator(CONTACTS, require_login=True)
    client = app_factory(settings, env={TOKEN_ENV: "t", **SECRET_KEY}).test_client()
    hostile = make_alert("h", alertname="Disk\x1b[31mFull\n<b>x</b>", service="db\r\nX: y")
    quiet = make_alert("q", alertname="Quiet", severity="low", service="web")
    client.post("/alerts", json=make_notification(hostile, quiet), headers=AUTH)
    with store.tx.write() as conn:
        conn.execute(update(deliveries).values(status="delivered"))
    clock.advance(600)
    resolved = [{**a, "status": "resolved"} for a in (hostile, quiet)]
    client.post("/alerts", json=make_notification(*resolved), headers=AUTH)
    return client


def _env(token: str = "t") -> dict[str, str]:
    return {URL_ENV: URL, TOKEN_ENV: token}


def test_the_report_prints_as_tables_worst_first(client, tmp_path) -> None:
    out, seen = io.StringIO(), []
    assert main(["noise", "--since", "2d"], _env(), out, opener_for(client, seen), tmp_path) == 0
    assert seen == ["/api/reports/noise?since=2d"]
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Noise report, ")
    rules = lines[lines.index(next(x for x in lines if x.startswith("alert rule"))) :][:3]
    assert rules[0].endswith("messages  never acted on")
    assert rules[1].startswith("Disk [31mFull <b>x</b>")  # one line, text as it was
    assert rules[1].split()[-2:] == ["2", "1"]  # SMS and email; never acted on
    assert rules[2].startswith("Quiet") and rules[2].split()[-2:] == ["0", "0"]  # a log line
    assert "\ndb X: y " in out.getvalue()
    assert "\x1b" not in out.getvalue()
    assert out.getvalue().rstrip().endswith("playbook: no runs")


def test_json_prints_the_api_answer(client, tmp_path) -> None:
    out = io.StringIO()
    assert main(["noise", "--json"], _env(), out, opener_for(client, []), tmp_path) == 0
    body = json.loads(out.getvalue())
    assert body["until"] - body["since"] == 7 * 86400
    assert [r["name"] for r in body["services"]] == ["db\r\nX: y", "web"]


def test_a_bad_since_is_refused_before_asking(client, tmp_path, capsys) -> None:
    seen: list[str] = []
    with pytest.raises(SystemExit) as exit_:
        main(["noise", "--since", "a week"], _env(), io.StringIO(), opener_for(client, seen),
             tmp_path)  # fmt: skip
    assert exit_.value.code == EXIT_USAGE and seen == []
    assert "argument --since: not a duration like 7d, 24h or 30m" in capsys.readouterr().err


def test_a_wrong_token_is_one_line(client, tmp_path, capsys) -> None:
    out = io.StringIO()
    assert main(["noise"], _env("nope"), out, opener_for(client, []), tmp_path) == EXIT_REFUSED
    err = capsys.readouterr().err
    assert err.startswith("reports: the webhook refused the bearer token") and err.count("\n") == 1
