"""The SMTP client every service sends mail with (aiosmtplib), configured from :class:`MailSettings`.

A message is built from a rendered template (plain-text and HTML parts) and handed to the server in one
connection per mail; the caller decides what a failure means (notification-service retries from its queue
table, user-service from its own). Addresses and bodies are never logged.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import aiosmtplib

from chat_shared.mail.templates import Rendered
from chat_shared.settings import ServiceSettings


class MailSettings(ServiceSettings):
    """SMTP settings of a service that sends mail (from the environment or ``/run/secrets``)."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8026
    smtp_username: str | None = None
    smtp_password: str | None = None
    #: ``starttls`` upgrades a plain connection (port 587); ``tls`` is implicit TLS (port 465); ``none`` only
    #: for a local sink or Mailpit.
    smtp_security: str = "none"
    smtp_timeout_s: float = 10.0
    mail_from_address: str = "no-reply@bigtech.chat"
    mail_from_name: str = "BigTech Chat"


class Mailer:
    """Sends rendered mails over SMTP."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    def compose(self, to: str, mail: Rendered) -> EmailMessage:
        """The MIME message: a ``multipart/alternative`` of the plain text and the HTML."""
        s = self.settings
        message = EmailMessage()
        message["From"] = formataddr((s.mail_from_name, s.mail_from_address))
        message["To"] = to
        message["Subject"] = mail.subject
        message["Message-ID"] = make_msgid(domain=s.mail_from_address.rpartition("@")[2] or None)
        message.set_content(mail.text)
        message.add_alternative(mail.html, subtype="html")
        message["Content-Language"] = mail.locale  # after the parts: set_content clears Content-* headers
        return message

    async def send(self, to: str, mail: Rendered) -> None:
        """Deliver one mail; raises ``aiosmtplib.SMTPException`` or ``OSError`` when the server refuses or is
        away (the caller retries)."""
        s = self.settings
        await aiosmtplib.send(
            self.compose(to, mail),
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            use_tls=s.smtp_security == "tls",
            start_tls=s.smtp_security == "starttls",
            timeout=s.smtp_timeout_s,
        )
