"""`python -m stack ctl ARGS...`: supervisorctl on the running stack.

supervisorctl comes with the virtualenv, not on PATH, and needs the run's own
configuration (var/run/supervisord.conf) to find its socket; this runs it with
both, e.g. `python -m stack ctl status` or `python -m stack ctl restart demo`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

from stack.ports import StackError
from stack.supervisor import Layout


def ctl_argv(layout: Layout, args: Sequence[str], python: str = sys.executable) -> list[str]:
    return [python, "-m", "supervisor.supervisorctl", "-c", str(layout.conf), *args]


def ctl(layout: Layout, args: Sequence[str]) -> int:
    """supervisorctl's own exit status; a StackError when no stack was started here."""
    if not layout.conf.is_file():
        raise StackError(
            [f"no stack started from {layout.root} ({layout.conf} is missing): run `make up` first"]
        )
    return subprocess.run(ctl_argv(layout, args), check=False).returncode
