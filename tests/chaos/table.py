"""`python -m chaos.table FILE` (tests/ on the path; `make chaos` runs it): the
chaos results in FILE (tests/chaos/results.py) as the table the plan's
objectives are read against: scenario, recovery time, plan RTO, data lost, plan RPO.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from chaos.results import Result, read

HEADERS = ("scenario", "recovery time", "plan RTO", "data lost", "plan RPO")


def duration(seconds: float | None) -> str:
    """Seconds as a person reads them: 7.4 s, 5 min, 4 h; a dash for none."""
    if seconds is None:
        return "-"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:.1f} s"


def format_table(results: Sequence[Result]) -> str:
    rows = [HEADERS] + [
        (
            r.scenario,
            duration(r.recovery_seconds),
            duration(r.rto_seconds),
            duration(r.data_lost),
            duration(r.rpo_seconds),
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m chaos.table RESULTS_FILE", file=sys.stderr)
        return 2
    results = read(Path(argv[0]))
    if not results:
        print(f"no chaos results in {argv[0]}: no scenario recovered", file=sys.stderr)
        return 1
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
