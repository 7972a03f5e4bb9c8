"""The stack's long-running helpers import only what they use: each Python
interpreter `make up` keeps running costs its imports in resident memory for the
whole run (issue 27, idle cost), so the backup schedule and Litestream's
follower must not pull in the webhook's web app or the renderer's world."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

# What the helpers never use: the web framework, the renderer (and through it the
# webhook's remediation and the probe exporter's checks), and SQLAlchemy (the
# webhook's store URL is read without it unless it names PostgreSQL).
HEAVY = ("flask", "stack.render", "alert_webhook.remediation", "exporters.checks", "sqlalchemy")


def test_the_backup_helpers_import_no_web_app_and_no_sqlalchemy(tmp_path) -> None:
    # What `python -m stack replicate` and `backup-schedule` import before they run,
    # and what building their backups (the default SQLite store) adds.
    code = (
        "import sys\n"
        "from stack.backups.cli import COMMANDS, main\n"
        "from stack.backups import make_backups\n"
        "from pathlib import Path\n"
        f"make_backups(Path({str(tmp_path)!r}), {{}})\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(done.stdout.split())
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == [], f"imported without need: {heavy}"


def test_the_probe_exporter_loads_sqlalchemy_only_for_an_sql_check() -> None:
    # The shipped probes (HTTP, TCP, an integrity check) need no database driver.
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "import exporters.probe\n"
        "from exporters.probe_config import load_probe_file\n"
        "from stack.repo import REPO\n"
        "load_probe_file(REPO / 'exporters' / 'probes.yml', os.environ)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "sqlalchemy" not in done.stdout.split()
