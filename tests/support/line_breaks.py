"""Every character any reader of ours may take as a line break or a command, found
by asking Python itself over the whole of Unicode (about 0.3 s, once), and text
that is made of them and of anything else."""

from __future__ import annotations

import sys
import unicodedata

from hypothesis import strategies as st


def _breaks(text: str) -> bool:
    return len(("a" + text + "b").splitlines()) > 1 or unicodedata.category(text) in (
        "Zl", "Zp", "Cc",
    )  # fmt: skip


LINE_BREAKS: tuple[str, ...] = tuple(c for c in map(chr, range(sys.maxunicode + 1)) if _breaks(c))


def one_line_in_every_reader(text: str) -> bool:
    """Nothing in `text` starts a new line for str.splitlines, the email package
    (which refuses CR, LF and what splitlines splits on in a header), a terminal
    or a log reader."""
    return not any(c in text for c in LINE_BREAKS) and len(("a" + text + "b").splitlines()) == 1


def hostile_text(min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[str]:
    """Outside text rich in line breaks: any character, one in three a line break.
    No lone surrogates: those cannot be encoded at all (a question for ingest)."""
    anything = st.characters(blacklist_categories=("Cs",))
    char = st.one_of(st.sampled_from(LINE_BREAKS), anything, anything)
    return st.text(char, min_size=min_size, max_size=max_size)
