"""Text that came from outside (labels, a script's JSON, annotations), made safe
for one line, and the URLs among it that may become links a person clicks.

Annotations (`runbook_url`) and `generatorURL` come from whoever can send
alerts. A `javascript:` or `data:` URL rendered as a link runs in the
dashboard's origin when clicked; a scheme-relative `//host` goes wherever it
says. Only absolute http(s) URLs are links; anything else is shown as text.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(text: str) -> str:
    """Control characters (CR, LF, NUL …) as one space: a header, a subject or a
    name built from outside text never starts a new line, and every store can hold
    it (PostgreSQL's text cannot hold NUL)."""
    return _CONTROL.sub(" ", text)


def followable(url: str) -> bool:
    # The raw text must itself start with the scheme: browsers strip spaces and
    # drop tabs before reading one, so a parsed scheme alone could be fooled.
    if not url.lower().startswith(("http://", "https://")):
        return False
    try:
        return bool(urlsplit(url).netloc)
    except ValueError:
        return False
