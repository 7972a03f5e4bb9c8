"""Phone numbers compared as E.164 (`+15555550100`), however people write them.

Twilio names a sender in E.164; a configuration may say `+1 (555) 555-0100`.
Only a full international number can be compared: one without its country
code could be anyone's, so it matches nobody.
"""

from __future__ import annotations

import re

_FORMATTING = re.compile(r"[\s().-]")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def e164(written: str) -> str | None:
    """`written` in E.164, or None when it is not a full international number.
    The spaces, dots, dashes and brackets people write are dropped, and the
    international prefix `00` reads as `+`."""
    number = _FORMATTING.sub("", written)
    if number.startswith("00"):
        number = "+" + number[2:]
    return number if _E164.fullmatch(number) else None
