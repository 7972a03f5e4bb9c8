"""`POST /twilio/inbound`: a reply to an alert SMS ("ACK 42") acknowledges incident 42.

Twilio posts each incoming SMS here (the number's messaging webhook), form
encoded, signed in `X-Twilio-Signature` with the account's auth token over the
URL it called and the posted fields. twilio's `RequestValidator` checks that
signature against the auth token of every configured SMS provider (a reply
arrives on whichever number sent the alert); an unsigned or wrongly signed
request is 403 and changes nothing. The signature is what authenticates the
request, so it needs no session and no CSRF token; the Host and Origin guards
still apply.

Before any of that, the form must be one Twilio could send (`MAX_FORM_BYTES`,
`MAX_FORM_FIELDS`, form-encoded), judged from the raw bytes: parsing a forged
500,000-field form and computing its signature once per auth token took
seconds of a request thread each time.

The sender must be one of the SMS channel's recipients (tier 1 or 2), compared
in E.164; the acknowledgement names them ("alice (sms)"). Every signed request
is answered with TwiML, an SMS back saying what happened.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from werkzeug.exceptions import RequestEntityTooLarge

from alert_webhook.db.schema import MAX_ID
from alert_webhook.delivery.phone_numbers import e164
from alert_webhook.delivery.settings import SmsChannel
from alert_webhook.web.context import AppContext, ctx
from alert_webhook.web.ids import whole_number

bp = Blueprint("twilio_inbound", __name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
# Where the app keeps the class that checks signatures: twilio's RequestValidator.
VALIDATOR = "twilio_validator"
# What Twilio ever posts, with margin. An inbound SMS carries 20-40 fields (the
# sids, From/To and their city/state/zip/country, Body, NumSegments, NumMedia
# and up to ten MediaUrlN/MediaContentTypeN pairs); its longest Body, 1,600
# characters of up to 12 bytes each once percent-encoded, is under 20 KB.
# Anything past these is refused from the raw bytes before the form is parsed
# or a signature computed: both cost time in proportion to the form.
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 32 * 1024
MAX_FORM_FIELDS = 100
# Twilio's own limit for one message's body; anything longer is not a reply.
MAX_BODY_CHARS = 1600
_ACK = re.compile(r"\s*ACK\s*([0-9]+)\s*", re.IGNORECASE | re.ASCII)
HOW_TO_REPLY = "Not understood: reply ACK <number>, e.g. ACK 42, to acknowledge incident 42."


def install(app: Flask) -> None:
    """Register the endpoint, exempt from CSRF: Twilio's signature stands in for it."""
    app.register_blueprint(bp)
    app.extensions[VALIDATOR] = RequestValidator
    app.extensions["csrf"].exempt(bp)


def signed_url(public_url: str | None) -> str:
    """The URL Twilio signed: the configured public one (a proxy in front changes
    scheme, host or path prefix), else the URL this request arrived at."""
    if public_url is None:
        return request.url
    query = request.query_string.decode("latin-1")
    return public_url.rstrip("/") + request.path + (f"?{query}" if query else "")


def _form_refusal() -> Any | None:
    """The answer to a form Twilio would never send (413, 400 or 415), else None.
    Reads only the raw bytes: the form is not parsed, no signature computed."""
    if request.mimetype != FORM_TYPE:
        return jsonify({"error": f"Content-Type must be {FORM_TYPE}"}), 415
    too_large = jsonify({"error": f"form larger than {MAX_FORM_BYTES} bytes"}), 413
    length = request.content_length
    if length is not None and length > MAX_FORM_BYTES:
        return too_large
    # A body without a length (chunked) is read one byte past the limit at most:
    # werkzeug stops there, and that byte tells it was longer.
    request.max_content_length = MAX_FORM_BYTES + 1
    try:
        raw = request.get_data(cache=True, parse_form_data=False)
    except RequestEntityTooLarge:
        return too_large
    if len(raw) > MAX_FORM_BYTES:
        return too_large
    if raw.count(b"&") + 1 > MAX_FORM_FIELDS:
        return jsonify({"error": f"form has more than {MAX_FORM_FIELDS} fields"}), 400
    return None


def _auth_tokens(app: AppContext) -> list[str]:
    providers = app.settings.channels.sms.providers
    return [t for t in (app.settings.secret(p.auth_token_env) for p in providers) if t]


def _signature_refusal(app: AppContext) -> Any | None:
    """The 403 answer unless Twilio signed this request, else None."""
    tokens = _auth_tokens(app)
    if not tokens:
        error = "no Twilio auth token configured: cannot check X-Twilio-Signature"
        return jsonify({"error": error}), 403
    signature = request.headers.get(SIGNATURE_HEADER, "")
    url = signed_url(app.links.public_url)
    if signature and any(
        current_app.extensions[VALIDATOR](token).validate(url, request.form, signature)
        for token in tokens
    ):
        return None
    current_app.logger.warning("inbound SMS refused: missing or wrong %s", SIGNATURE_HEADER)
    return jsonify({"error": f"missing or wrong {SIGNATURE_HEADER}"}), 403


def recipient_names(sms: SmsChannel) -> dict[str, str]:
    """Each recipient's E.164 number → the name an acknowledgement records."""
    numbers = [e164(n) for n in (*sms.recipients, *sms.escalation_recipients)]
    return {number: sms.names.get(number, number) for number in numbers if number}


def answer(text: str) -> Response:
    """TwiML: Twilio sends `text` back to the sender as an SMS."""
    twiml = MessagingResponse()
    twiml.message(text)
    return Response(str(twiml), mimetype="application/xml")


def acknowledge(app: AppContext, number: str, by: str) -> str:
    """Acknowledge incident `number` (digits) and say what happened. The store's
    `ack` keeps the first acknowledgement, so the row tells whether this one was it."""
    now = app.clock()
    # Past the stores' integer range a number is no incident (and never reaches SQL).
    alert_id = whole_number(number, 1, MAX_ID)
    incident = app.store.incidents.ack(alert_id, by, now) if alert_id is not None else None
    if alert_id is None or incident is None:
        return f"No incident {number[:30]}; nothing was acknowledged."
    if incident["acked_by"] == by and incident["acked_at"] == now:
        current_app.logger.info("incident %s acknowledged by %s", alert_id, by)
        return f"Incident {alert_id} acknowledged by {by}. Escalation stopped."
    return f"Incident {alert_id} was already acknowledged by {incident['acked_by']}."


@bp.post("/twilio/inbound")
def inbound() -> Any:
    app = ctx()
    refusal = _form_refusal() or _signature_refusal(app)
    if refusal is not None:
        return refusal
    sender = request.form.get("From", "").strip()
    if not sender:
        return jsonify({"error": "From: required (the sender's number)"}), 400
    name = recipient_names(app.settings.channels.sms).get(e164(sender) or "")
    if name is None:
        current_app.logger.warning("inbound SMS from a number not on the on-call list refused")
        return answer("This number is not on the on-call list; nothing was acknowledged.")
    body = request.form.get("Body", "")
    match = _ACK.fullmatch(body) if len(body) <= MAX_BODY_CHARS else None
    if match is None:
        return answer(HOW_TO_REPLY)
    return answer(acknowledge(app, match[1], f"{name} (sms)"))
