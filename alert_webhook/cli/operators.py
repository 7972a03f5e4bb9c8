"""`python -m alert_webhook user add NAME`: the line to paste under `auth.operators`.

The password is asked twice without echo at a terminal, or read as the first
line of standard input (for scripts); never from the command line, where other
users' `ps` and the shell's history would see it. Only its hash is printed.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from typing import IO

from werkzeug.security import generate_password_hash

from alert_webhook.config.auth import NAME_PATTERN

EXIT_USAGE = 2
MIN_PASSWORD_CHARS = 8


def _read_password(stdin: IO[str]) -> str | None:
    """The password, or None when the two prompts differ."""
    if stdin.isatty():
        first = getpass.getpass("password: ")
        return first if getpass.getpass("again: ") == first else None
    return stdin.readline().removesuffix("\n").removesuffix("\r")


def main(argv: Sequence[str] | None = None, stdin: IO[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alert_webhook user", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="hash a new operator's password")
    add.add_argument("name", metavar="NAME", help="the operator's login name")
    args = parser.parse_args(argv)
    if not NAME_PATTERN.fullmatch(args.name):
        print("user add: NAME: letters, digits and . _ @ - only, at most 64", file=sys.stderr)
        return EXIT_USAGE
    password = _read_password(stdin or sys.stdin)
    if password is None:
        print("user add: password: the two entries differ", file=sys.stderr)
        return EXIT_USAGE
    if len(password) < MIN_PASSWORD_CHARS:
        print(f"user add: password: at least {MIN_PASSWORD_CHARS} characters", file=sys.stderr)
        return EXIT_USAGE
    print("# paste under auth.operators in the webhook's configuration:", file=sys.stderr)
    print(f"{args.name}: '{generate_password_hash(password)}'")
    return 0
