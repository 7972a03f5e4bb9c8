"""A forged giant form at `/twilio/inbound` of the served webhook (`python -m
alert_webhook`, waitress in front): refused as too large before it is parsed or
its signature checked, while a form Twilio signed is still answered."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from fakes import AUTH_TOKEN, TWILIO_ENV
from support.procs import Process, free_port, python_module, running
from twilio.request_validator import RequestValidator

from alert_webhook.api.twilio_inbound import MAX_FORM_BYTES

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
ALICE = "+15555550100"
CONFIG = {
    "channels": {
        "sms": {
            "providers": [{"name": "twilio1", "from_number": "+15555550000"}],
            "recipients": [ALICE],
        }
    }
}
GIANT = "&".join(f"f{i}=v" for i in range(500_000)).encode()  # ~4.9 MB, as the probe sent
FORM = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "forged"}
CHECKED = "missing or wrong X-Twilio-Signature"  # logged once a signature was checked


@pytest.fixture
def webhook(tmp_path: Path) -> Iterator[tuple[str, Process]]:
    config = tmp_path / "webhook.yml"
    config.write_text(yaml.safe_dump({**CONFIG, "store": {"url": f"sqlite:///{tmp_path}/w.db"}}))
    port = free_port()
    argv = python_module("alert_webhook", "--config", str(config), "--bind", f"127.0.0.1:{port}")
    url = f"http://127.0.0.1:{port}"
    with running(
        "webhook", argv, tmp_path, ready_url=f"{url}/healthz", env=TWILIO_ENV, cwd=ROOT
    ) as proc:
        yield url, proc


def test_a_giant_forged_form_is_413_unchecked_and_a_signed_reply_still_works(webhook) -> None:
    url, proc = webhook
    sized = requests.post(f"{url}/twilio/inbound", data=GIANT, headers=FORM, timeout=30)
    assert sized.status_code == 413, sized.text
    assert sized.json() == {"error": f"form larger than {MAX_FORM_BYTES} bytes"}
    chunks = (GIANT[i : i + 65536] for i in range(0, len(GIANT), 65536))
    chunked = requests.post(f"{url}/twilio/inbound", data=chunks, headers=FORM, timeout=30)
    assert chunked.status_code == 413, chunked.text
    assert CHECKED not in proc.log()

    fields = {"From": ALICE, "To": "+15555550000", "Body": "ACK 7", "MessageSid": "SM1"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(f"{url}/twilio/inbound", fields)
    signed = requests.post(
        f"{url}/twilio/inbound",
        data=fields,
        headers={"X-Twilio-Signature": signature},
        timeout=30,
    )
    assert signed.status_code == 200, signed.text
    (message,) = ET.fromstring(signed.content).iter("Message")
    assert message.text == "No incident 7; nothing was acknowledged."
