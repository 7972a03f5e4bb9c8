"""cli/operators.py: `python -m alert_webhook user add NAME` prints the line to
paste under auth.operators; the password comes from a prompt or stdin, never argv."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
import yaml

from alert_webhook.cli.operators import main
from alert_webhook.config.environment import SECRET_KEY_ENV
from alert_webhook.config.settings import settings_from_mapping
from alert_webhook.web.operators import Operators

KEY = {SECRET_KEY_ENV: "k" * 32}


def _pasted(line: str) -> Operators:
    """The operators a config holds once `line` is pasted under auth.operators."""
    text = "auth:\n  operators:\n" + "".join(f"    {row}\n" for row in line.splitlines())
    settings = settings_from_mapping(yaml.safe_load(text), KEY)
    return Operators(settings.auth.operators)


def test_the_printed_line_is_valid_config_for_that_password(capsys) -> None:
    assert main(["add", "alice"], stdin=io.StringIO("correct horse battery\n")) == 0
    out, err = capsys.readouterr()
    assert out.startswith("alice: ") and "correct horse" not in out + err
    assert "auth.operators" in err
    operators = _pasted(out)
    assert operators.verify("alice", "correct horse battery")
    assert not operators.verify("alice", "correct horse battery\n")


def test_a_bad_name_or_a_short_password_exits_2_naming_it(capsys) -> None:
    assert main(["add", "bad name"], stdin=io.StringIO("correct horse battery\n")) == 2
    assert "NAME: letters, digits" in capsys.readouterr().err
    assert main(["add", "alice"], stdin=io.StringIO("short\n")) == 2
    assert "password: at least 8 characters" in capsys.readouterr().err
    assert main(["add", "alice"], stdin=io.StringIO("")) == 2
    assert "password: at least 8 characters" in capsys.readouterr().err


@pytest.mark.integration
def test_the_module_entry_point_reads_the_password_from_stdin() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "alert_webhook", "user", "add", "bob"],
        input="a long enough password\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert _pasted(done.stdout).verify("bob", "a long enough password")
    assert "a long enough password" not in done.stdout + done.stderr


@pytest.mark.integration
def test_there_is_no_way_to_give_the_password_on_the_command_line(capsys) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "alert_webhook", "user", "add", "bob", "--password", "x" * 12],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "unrecognized arguments" in done.stderr
