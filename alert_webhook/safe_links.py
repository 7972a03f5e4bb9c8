"""Which URLs from alerts may become links a person clicks.

Annotations (`runbook_url`) and `generatorURL` come from whoever can send
alerts. A `javascript:` or `data:` URL rendered as a link runs in the
dashboard's origin when clicked; a scheme-relative `//host` goes wherever it
says. Only absolute http(s) URLs are links; anything else is shown as text.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def followable(url: str) -> bool:
    # The raw text must itself start with the scheme: browsers strip spaces and
    # drop tabs before reading one, so a parsed scheme alone could be fooled.
    if not url.lower().startswith(("http://", "https://")):
        return False
    try:
        return bool(urlsplit(url).netloc)
    except ValueError:
        return False
