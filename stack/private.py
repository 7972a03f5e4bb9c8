"""Files only their owner may read: the stack's secrets on disk."""

from __future__ import annotations

from pathlib import Path


def write_private(path: Path, text: str) -> Path:
    """`text` into `path`, mode 0600: made private before the secret is written,
    and kept so if the file existed with a wider mode."""
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)
    return path
