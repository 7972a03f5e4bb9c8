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

# Every character some reader of ours takes as the end of a line, or as a command:
# the C0 controls and DEL; the C1 controls (U+0085 NEL is a line break to Python's
# str.splitlines and to the email package, which then refuses the header; U+009B
# is a terminal's CSI); the Unicode line and paragraph separators (U+2028, U+2029:
# splitlines, email headers, JavaScript). These are exactly the characters
# str.splitlines() splits on plus Unicode's Cc, Zl and Zp categories
# (tests/alert_webhook/test_text.py checks it over the whole of Unicode).
_BREAKS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str) -> str:
    """Line breaks and control characters (CR, LF, NEL, U+2028, NUL …), each run as
    one space: a header, a subject, an SMS, a log line or a console row built from
    outside text never starts a new line, and every store can hold it (PostgreSQL's
    text cannot hold NUL). The one place single-line text is made."""
    return _BREAKS.sub(" ", text)


def followable(url: str) -> bool:
    # The raw text must itself start with the scheme: browsers strip spaces and
    # drop tabs before reading one, so a parsed scheme alone could be fooled.
    if not url.lower().startswith(("http://", "https://")):
        return False
    try:
        return bool(urlsplit(url).netloc)
    except ValueError:
        return False
