"""`python -m alert_webhook reports noise [--since 7d] [--json]`: the noise
report of the last `--since` (7d by default), worst offender first, as the
webhook's `GET /api/reports/noise` answers it — printed as text tables, or as
its JSON with `--json`. The URL, the token and the exit statuses are those of
`python -m alert_webhook incidents` (cli/incidents.py): 1 the webhook refused,
2 bad arguments (a `--since` that is not a duration among them), 3 the webhook
could not be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO
from urllib.parse import urlencode

from alert_webhook.cli.incidents import (
    DEFAULT_URL,
    URL_ENV,
    Failed,
    Opener,
    WebhookAPI,
    _url,
    find_token,
)
from alert_webhook.reports.noise import DEFAULT_SINCE, BadSince, NoiseReport, parse_since
from alert_webhook.reports.noise_text import write


def _since(raw: str) -> str:
    try:
        parse_since(raw)
    except BadSince as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("since: ")) from None
    return raw.strip()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m alert_webhook reports", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument(
        "--url", type=_url, default=None,
        help=f"the webhook (default: ${URL_ENV}, else {DEFAULT_URL})",
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    noise = commands.add_parser(
        "noise", help="per alert rule, service and playbook: what fired and what came of it"
    )
    noise.add_argument("--since", type=_since, default=DEFAULT_SINCE,
                       help="the window, ending now: 7d, 24h, 30m, 2w (default: 7d)")  # fmt: skip
    noise.add_argument("--json", action="store_true", help="print the API's JSON as it is")
    return parser


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    out: IO[str] | None = None,
    opener: Opener = urllib.request.urlopen,
    root: Path | None = None,
) -> int:
    env = os.environ if env is None else env
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        url = args.url or _url(env.get(URL_ENV) or DEFAULT_URL)
    except argparse.ArgumentTypeError as exc:
        parser.error(f"{URL_ENV}: {exc}")
    api = WebhookAPI(url, find_token(env, url, Path.cwd() if root is None else root), opener)
    out = out or sys.stdout
    try:
        found = api.call("GET", "/api/reports/noise?" + urlencode({"since": args.since}))
    except Failed as exc:
        print(f"reports: {exc}", file=sys.stderr)
        return exc.status
    if args.json:
        out.write(json.dumps(found, indent=2, sort_keys=True) + "\n")
    else:
        out.write(write(NoiseReport.from_json(found)))
    return 0
