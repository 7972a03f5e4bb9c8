"""stack/private.py: the stack's secrets on disk are its owner's alone."""

from __future__ import annotations

import stat
from pathlib import Path

from stack.private import write_private
from stack.render import write_login


def test_a_new_file_is_private_and_holds_the_text(tmp_path: Path) -> None:
    path = write_private(tmp_path / "secret", "s3cret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == "s3cret"


def test_a_file_that_existed_readable_by_all_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("old")
    path.chmod(0o644)
    write_private(path, "new")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == "new"


def test_the_local_operators_login_is_private(tmp_path: Path) -> None:
    path = write_login(tmp_path, "operator", "pw")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and "pw" in path.read_text()
