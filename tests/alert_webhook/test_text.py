"""text.py: the one place single-line text is made, over the whole of Unicode."""

from __future__ import annotations

import pytest
from hypothesis import given
from support.line_breaks import LINE_BREAKS, hostile_text, one_line_in_every_reader

from alert_webhook.text import one_line


def test_the_line_breaks_are_the_ones_the_issue_names_and_the_controls() -> None:
    for named in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029\x00\x1b\x7f\x9b":
        assert named in LINE_BREAKS
    assert len(LINE_BREAKS) == 67  # C0, DEL, C1, U+2028, U+2029


@pytest.mark.parametrize("char", LINE_BREAKS, ids=lambda c: f"U+{ord(c):04X}")
def test_each_line_break_becomes_a_space(char: str) -> None:
    assert one_line(f"Disk{char}Full") == "Disk Full"
    assert one_line(f"a{char}{char}\r\nb") == "a b"


def test_everything_else_is_kept() -> None:
    kept = "Ünïcødé “quotes” \u200b\u202e ✓ 𝄞 -_./:@"
    assert one_line(kept) == kept


@given(hostile_text(max_size=80))
def test_no_text_leaves_it_on_more_than_one_line(text: str) -> None:
    assert one_line_in_every_reader(one_line(text))
