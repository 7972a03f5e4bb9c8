"""Email through SMTP: STARTTLS or implicit TLS, auth from the environment.

The connection factory is a parameter (tests pass one for a loopback server
without TLS; the default speaks TLS with certificate checks). With acknowledge
links configured, each firing mail carries one made for its recipient.

A connection is kept for the next mail (`SmtpEmail` holds up to `KEEP` idle
ones, checked with a NOOP before reuse): opening one per mail — greeting, EHLO,
QUIT, and with TLS a handshake and a login — was half the cost of sending a
mail in the alert storm (issue 27, py-spy). A kept connection the relay has
closed meanwhile fails its NOOP and is replaced; one that fails while sending
is closed, and the mail fails as before (retried by the delivery worker).
"""

from __future__ import annotations

import functools
import smtplib
import ssl
import threading
import weakref
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate

from alert_webhook.delivery.channels import DeliveryError, Message
from alert_webhook.delivery.channels.ack_links import AckLink, AckLinks
from alert_webhook.delivery.channels.format import email_html, email_text, subject
from alert_webhook.delivery.settings import SmtpProvider
from alert_webhook.text import one_line

SmtpFactory = Callable[[SmtpProvider], smtplib.SMTP]
KEEP = 2  # idle connections kept per relay: the email lane, and a breaker trial


@functools.cache
def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """The TLS context of every connection trusting `ca_file` (None: the system's
    CAs); certificates and host names are always verified. Built once: loading a CA
    bundle costs milliseconds of CPU, which per mail was over a third of the
    webhook's CPU in an alert storm (issue 27). A context serves many connections
    at once; a CA file changed on disk is read again at the next start."""
    return ssl.create_default_context(cafile=ca_file)


def connect(
    settings: SmtpProvider, context: Callable[[str | None], ssl.SSLContext] = tls_context
) -> smtplib.SMTP:
    timeout = settings.timeout_seconds
    if settings.security == "tls":
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=timeout, context=context(settings.ca_file)
        )
    conn = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    if settings.security == "starttls":
        try:
            conn.starttls(context=context(settings.ca_file))
        except BaseException:
            conn.close()
            raise
    return conn


def build(message: Message, sender: str, ack: AckLink | None = None) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = subject(message)
    mail["From"] = sender
    mail["To"] = one_line(message.recipient)
    mail["Date"] = formatdate(usegmt=True)
    # Stable per delivery, so a receiving system can drop the copy our unavoidable
    # crash window (sent, not yet recorded) may produce.
    mail["Message-ID"] = f"<delivery-{message.delivery_id}.{message.purpose}@recovery-stack>"
    mail["X-Recovery-Stack-Delivery"] = str(message.delivery_id)
    mail.set_content(email_text(message, ack))
    mail.add_alternative(email_html(message, ack), subtype="html")
    return mail


def plain_mail(
    recipient: str, subject_line: str, text: str, message_id: str, sender: str
) -> EmailMessage:
    """A plain-text mail of our own (the weekly noise digest): every header on one
    line, whatever the text it was built from."""
    mail = EmailMessage()
    mail["Subject"] = one_line(subject_line)
    mail["From"] = sender
    mail["To"] = one_line(recipient)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = one_line(message_id)
    mail.set_content(text)
    return mail


def _close(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()


def _close_all(idle: list[smtplib.SMTP]) -> None:
    while idle:
        idle.pop().close()  # no QUIT: nothing may wait on a relay here


def classify(exc: Exception) -> DeliveryError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        reason = f"recipient refused: {codes}"
        if codes and all(c >= 500 for c in codes):
            return DeliveryError(reason, retryable=False, scope="recipient")
        return DeliveryError(reason, retryable=True)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError(f"SMTP authentication failed ({exc.smtp_code})", retryable=False)
    if isinstance(exc, smtplib.SMTPResponseException):
        reason = f"SMTP {exc.smtp_code}"
        return DeliveryError(reason, retryable=not 500 <= exc.smtp_code < 600)
    return DeliveryError(f"SMTP unreachable: {type(exc).__name__}: {exc}", retryable=True)


class SmtpEmail:
    local = False

    def __init__(
        self,
        settings: SmtpProvider,
        username: str | None,
        password: str | None,
        factory: SmtpFactory = connect,
        ack_links: AckLinks | None = None,
    ) -> None:
        self.name = settings.name
        self._settings = settings
        self._auth = (username, password) if username and password else None
        self._factory = factory
        self._ack_links = ack_links
        self._lock = threading.Lock()
        self._idle: list[smtplib.SMTP] = []  # connections kept for the next mail
        # Closed when this sender goes (or at exit): a kept socket is never leaked.
        weakref.finalize(self, _close_all, self._idle)

    def send(self, message: Message) -> str | None:
        ack = self._ack_links.for_message(message) if self._ack_links else None
        return self.send_mail(build(message, self._settings.sender, ack))

    def send_text(self, recipient: str, subject_line: str, text: str, message_id: str) -> str:
        """A plain-text mail that is no alert's message (the noise digest)."""
        sender = self._settings.sender
        return self.send_mail(plain_mail(recipient, subject_line, text, message_id, sender))

    def send_mail(self, mail: EmailMessage) -> str:
        try:
            conn = self._kept() or self._open()
            try:
                conn.send_message(mail)
            except BaseException:
                _close(conn)
                raise
        except (smtplib.SMTPException, OSError) as exc:
            raise classify(exc) from None
        self._keep(conn)
        return str(mail["Message-ID"])

    def _open(self) -> smtplib.SMTP:
        conn = self._factory(self._settings)
        if self._auth:
            try:
                conn.login(*self._auth)
            except BaseException:
                _close(conn)
                raise
        return conn

    def _kept(self) -> smtplib.SMTP | None:
        """A kept connection that still answers, or None."""
        while True:
            with self._lock:
                if not self._idle:
                    return None
                conn = self._idle.pop()
            try:
                if conn.noop()[0] == 250:
                    return conn
            except (smtplib.SMTPException, OSError):
                pass
            conn.close()

    def _keep(self, conn: smtplib.SMTP) -> None:
        with self._lock:
            if len(self._idle) < KEEP:
                self._idle.append(conn)
                return
        _close(conn)
