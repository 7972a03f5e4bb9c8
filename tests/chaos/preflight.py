"""`python -m chaos.preflight` (tests/ on the path; `make chaos` runs it first):
is there a stack on the fast profile for the scenarios to break? If not, one
line saying what to do, and exit status 2, before any test starts."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from chaos.stack import NoChaosStack, running_stack


def main(env: Mapping[str, str] = os.environ) -> int:
    try:
        running_stack(env)
    except NoChaosStack as exc:
        print(f"make chaos: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
