"""Paths that stay under configured roots: checked as written when a playbook or
the settings are loaded, and opened without following links when used.

A root is resolved once (it may be a link an operator set up on purpose); below
it each folder is opened relative to its parent with O_NOFOLLOW, so a link
placed anywhere below the root — before or during the action — cannot lead
outside it. Work in a folder is then done relative to its descriptor.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import PurePosixPath

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def absolute_clean(path: str) -> str:
    """`path` if it is absolute and has no `..`; ValueError naming it otherwise."""
    if not os.path.isabs(path):
        raise ValueError(f"{path!r} must be an absolute path")
    if ".." in PurePosixPath(path).parts:
        raise ValueError(f"{path!r} must not hold '..'")
    return path


def clean_roots(roots: list[str]) -> list[str]:
    for root in roots:
        absolute_clean(root)
        if len(PurePosixPath(root).parts) < 2:
            raise ValueError("/ is not a root; name the folder the action works in")
    return roots


def under(path: str, roots: list[str]) -> bool:
    """`path` is one of `roots` or below one, as written (nothing resolved here)."""
    return any(PurePosixPath(path).is_relative_to(root) for root in roots)


def strictly_under(path: str, roots: list[str]) -> bool:
    return under(path, roots) and path not in roots


@contextlib.contextmanager
def open_folder(folder: str, roots: list[str]) -> Iterator[int]:
    """A descriptor of `folder` (a root or below one), each step below the root
    opened with O_NOFOLLOW: OSError (ELOOP, ENOTDIR …) where a link or a file
    stands in the way."""
    path = PurePosixPath(folder)
    root = max((r for r in roots if path.is_relative_to(r)), key=len, default=None)
    if root is None:
        raise ValueError(f"{folder} is not under the roots")
    fd = os.open(os.path.realpath(root), DIR_FLAGS)
    try:
        reached = PurePosixPath(root)
        for part in path.relative_to(root).parts:
            reached /= part
            try:
                sub = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                raise OSError(
                    exc.errno, f"{reached} is a link or not a folder; not followed"
                ) from None
            os.close(fd)
            fd = sub
        yield fd
    finally:
        os.close(fd)
