"""`python -m alert_webhook incidents`: the open incidents in a terminal, one per
failing service as the console shows them, `… incidents ack ID` to
acknowledge one, and `… incidents report ID` to print a closed incident's
post-incident report (Markdown), through the webhook's API.

The bearer token comes from the environment (`ALERT_WEBHOOK_TOKEN`, the variable
the webhook itself reads), never from the command line where `ps` and the
shell's history would show it. Without the variable, and only for a webhook on
this machine (a loopback URL), the token `make up` wrote to
var/run/webhook-token in the checkout it runs from (the working directory) is
used: the local stack works without copying its token around, and that token
is never sent elsewhere. The webhook's URL from `--url`, else
`ALERT_WEBHOOK_URL`, else the local webhook. An acknowledgement names the
person at the terminal (`--by`, else the login name). Every failure is one line
on stderr and an exit status: 1 the webhook refused (wrong token, no such
incident), 2 bad arguments, 3 the webhook could not be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from alert_webhook.config.environment import TOKEN_ENV
from alert_webhook.delivery.settings import SEVERITIES
from alert_webhook.incidents.grouping import service_of
from alert_webhook.text import one_line
from alert_webhook.times import ago

URL_ENV = "ALERT_WEBHOOK_URL"
DEFAULT_URL = "http://127.0.0.1:9095"
TIMEOUT = 10.0
EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3
COLUMNS = ("ID", "SEVERITY", "OPENED", "ALERT", "WHERE", "STATE")
# Where `make up` writes the webhook's token, under the checkout it runs from.
TOKEN_FILE = Path("var/run/webhook-token")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
Opener = Callable[..., Any]  # urllib.request.urlopen's shape


class Failed(Exception):
    """One line for stderr, and the exit status."""

    def __init__(self, line: str, status: int) -> None:
        super().__init__(line)
        self.status = status


def _url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"must be an http:// or https:// URL, not {raw!r}")
    return raw.rstrip("/")


class Token:
    """The bearer token, and where it came from (said when it is refused, never the token)."""

    def __init__(self, value: str | None, origin: str) -> None:
        self.value, self.origin = value, origin

    def refused(self) -> str:
        hint = f"a `make up` stack writes its token to {TOKEN_FILE} in its checkout"
        if self.value is None:
            return (
                f"the webhook wants a bearer token (HTTP 401): set {TOKEN_ENV} to its token "
                f"({hint}; run this from that checkout and it is read from there)"
            )
        if self.origin == TOKEN_ENV:
            return (
                f"the webhook refused the bearer token (HTTP 401): set {TOKEN_ENV} to its "
                f"token ({hint})"
            )
        return (
            f"the webhook refused the bearer token in {self.origin} (HTTP 401): is that "
            f"another stack's? set {TOKEN_ENV} to this webhook's token"
        )


def find_token(env: Mapping[str, str], url: str, root: Path) -> Token:
    """$ALERT_WEBHOOK_TOKEN; else, for a webhook on loopback, the local stack's token file."""
    if value := env.get(TOKEN_ENV):
        return Token(value, TOKEN_ENV)
    path = root / TOKEN_FILE
    if urlsplit(url).hostname in LOOPBACK:
        try:
            value = path.read_text().strip()
        except OSError:
            value = ""
        if value:
            return Token(value, str(path))
    return Token(None, "")


class WebhookAPI:
    """The webhook's JSON API at `base_url`, with the bearer token."""

    def __init__(self, base_url: str, token: Token, opener: Opener) -> None:
        self.base_url, self.token, self.opener = base_url, token, opener

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return json.loads(self._request(method, path, body, "application/json"))

    def text(self, path: str, accept: str) -> str:
        """A GET whose answer is text (a report in Markdown); refusals are JSON."""
        return self._request("GET", path, None, accept, as_json=False)

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None, accept: str, as_json: bool = True
    ) -> str:
        headers = {"Accept": accept}
        if self.token.value:
            headers["Authorization"] = f"Bearer {self.token.value}"
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base_url + path, data, headers, method=method)
        try:
            with self.opener(request, timeout=TIMEOUT) as resp:
                raw = resp.read()
            text = raw.decode("utf-8")
            if as_json:
                json.loads(text)  # an answer that is not JSON is not the webhook's
            return text
        except urllib.error.HTTPError as exc:
            raise Failed(_refusal(exc, self.token), EXIT_REFUSED) from None
        except OSError as exc:  # URLError: refused, no such host, timed out
            reason = getattr(exc, "reason", exc)
            line = f"cannot reach the webhook at {self.base_url}: {reason}"
            raise Failed(line, EXIT_UNREACHABLE) from None
        except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            what = "JSON" if as_json else "UTF-8 text"
            line = f"{self.base_url}{path} answered something other than {what}: is it the webhook?"
            raise Failed(line, EXIT_UNREACHABLE) from None


def _refusal(exc: urllib.error.HTTPError, token: Token) -> str:
    if exc.code == 401:
        return token.refused()
    try:
        said = json.load(exc)["error"]
    except (ValueError, KeyError, TypeError):
        said = exc.reason
    return f"{one_line(str(said))} (HTTP {exc.code})"


def _state(incident: dict[str, Any], now: float) -> str:
    if incident.get("acked_by"):
        return f"acked by {incident['acked_by']}"
    if (incident.get("silenced_until") or 0) > now:
        return f"silenced for {ago(incident['silenced_until'], now).removeprefix('in ')}"
    return f"tier {incident['tier']}" + (f", {incident['flag']}" if incident.get("flag") else "")


def _rank(incident: dict[str, Any]) -> tuple[int, float]:
    rank = {severity: n for n, severity in enumerate(SEVERITIES)}
    return rank.get(incident["severity"], len(rank)), incident["opened_at"]


def _incidents(found: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The open alerts' incidents as the console groups them: one incident per
    failing service (every open alert of a service is in its one open episode),
    the most severe alert first; incidents most severe first, then oldest."""
    by_service: dict[str, list[dict[str, Any]]] = {}
    for incident in found:
        by_service.setdefault(service_of(incident.get("labels") or {}), []).append(incident)
    groups = [sorted(members, key=_rank) for members in by_service.values()]
    return sorted(groups, key=lambda members: _rank(members[0]))


def _row(members: list[dict[str, Any]], now: float) -> tuple[str, ...]:
    """One incident: its headline alert (whose id `ack` takes), when its oldest
    open alert opened, how many alerts nobody acknowledged."""
    headline = members[0]
    labels = headline.get("labels") or {}
    service = labels.get("service") or labels.get("job")
    where = "/".join(v for v in (service, labels.get("instance")) if v)
    alert = headline["alertname"] + (f" (+{len(members) - 1} more)" if len(members) > 1 else "")
    unacked = [m for m in members if not m.get("acked_by")]
    state = _state(unacked[0] if unacked else headline, now)
    if unacked and len(members) > 1:
        state = f"{len(unacked)} unacked, {state}"
    opened = min(m["opened_at"] for m in members)
    cells = (
        str(headline["alert_id"]), headline["severity"] or "-", ago(opened, now), alert,
        where or "-", state,
    )  # fmt: skip
    return tuple(one_line(str(cell)) for cell in cells)


def list_open(api: WebhookAPI, out: IO[str], now: float) -> None:
    """Open incidents, one per failing service, most severe first, then oldest."""
    found = api.call("GET", "/api/incidents?state=open")["incidents"]
    if not found:
        print("no open incidents", file=out)
        return
    rows = [COLUMNS, *(_row(members, now) for members in _incidents(found))]
    widths = [max(len(row[n]) for row in rows) for n in range(len(COLUMNS) - 1)]
    for *padded, last in rows:
        print("  ".join([*map(str.ljust, padded, widths), last]), file=out)


def acknowledge(api: WebhookAPI, alert_id: int, by: str | None, out: IO[str]) -> None:
    """Acknowledge the incident of `alert_id` as the list shows it: with the other
    alerts of its service that are open and unacknowledged now (as the console's
    Acknowledge does); an alert that fires later is not covered."""
    found = api.call("GET", "/api/incidents?state=open")["incidents"]
    group = next((g for g in _incidents(found) if any(m["alert_id"] == alert_id for m in g)), [])
    also = [m["alert_id"] for m in group if m["alert_id"] != alert_id and not m.get("acked_by")]
    body: dict[str, Any] = {"by": by} if by else {}
    if also:
        body["alerts"] = also
    incident = api.call("POST", f"/api/incidents/{alert_id}/ack", body)["incident"]
    who = incident["acked_by"]
    more = f"{len(also)} more alert{'s' if len(also) > 1 else ''}" if also else ""
    if by and who != by:
        also_said = f"; {more} of it acknowledged by {by}" if also else ""
        print(f"incident {alert_id} was already acknowledged by {who}{also_said}", file=out)
    else:
        print(f"incident {alert_id} acknowledged by {who}" + (f" with {more}" if also else ""),
              file=out)  # fmt: skip


def report(api: WebhookAPI, alert_id: int, out: IO[str]) -> None:
    """The post-incident report of the incident `alert_id` belongs to, as the
    webhook writes it; an open incident has none yet (the webhook says so)."""
    out.write(api.text(f"/api/incidents/{alert_id}/report", "text/markdown"))


def _parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m alert_webhook incidents", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument(
        "--url", type=_url, default=None,
        help=f"the webhook (default: ${URL_ENV}, else {DEFAULT_URL})",
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("list", help="the open incidents (what no command does too)")
    ack = commands.add_parser("ack", help="acknowledge an incident: its escalation stops")
    ack.add_argument("id", metavar="ID", type=int, help="the incident's id (its alert_id)")
    ack.add_argument("--by", default=env.get("USER") or env.get("LOGNAME"),
                     help="who acknowledges (default: your login name)")  # fmt: skip
    shown = commands.add_parser(
        "report", help="a closed incident's post-incident report (Markdown)"
    )
    shown.add_argument(
        "id", metavar="ID", type=int, help="the incident's id (any of its alert_ids)"
    )
    return parser


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    out: IO[str] | None = None,
    opener: Opener = urllib.request.urlopen,
    clock: Callable[[], float] = time.time,
    root: Path | None = None,
) -> int:
    """`root`: the checkout whose var/run/webhook-token is the fallback token
    (default: the working directory, where `make up` is run)."""
    env = os.environ if env is None else env
    parser = _parser(env)
    args = parser.parse_args(argv)
    try:
        url = args.url or _url(env.get(URL_ENV) or DEFAULT_URL)
    except argparse.ArgumentTypeError as exc:
        parser.error(f"{URL_ENV}: {exc}")
    token = find_token(env, url, Path.cwd() if root is None else root)
    api = WebhookAPI(url, token, opener)
    out = out or sys.stdout
    try:
        if args.command == "ack":
            acknowledge(api, args.id, args.by, out)
        elif args.command == "report":
            report(api, args.id, out)
        else:
            list_open(api, out, clock())
    except Failed as exc:
        print(f"incidents: {exc}", file=sys.stderr)
        return exc.status
    return 0
