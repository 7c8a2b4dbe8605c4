"""The SMTP sink of ``make dev`` (:mod:`chat_shared.testing.smtp_sink`), used as is."""

from chat_shared.testing.smtp_sink import SmtpSink

__all__ = ["SmtpSink"]
