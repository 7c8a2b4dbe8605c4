"""Sends queued mails through the shared SMTP client."""

from __future__ import annotations

from typing import Any

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.metrics import MAILS
from app.models.delivery import Mail, MailKind
from app.services.dispatcher import Dispatcher
from app.services.push_result import Outcome, PushResult
from chat_shared.mail.client import Mailer
from chat_shared.mail.locale import as_locale
from chat_shared.mail.templates import Rendered, welcome


def render(mail: Mail) -> Rendered:
    """The mail a queued row stands for."""
    if mail.kind == MailKind.WELCOME:
        return welcome(as_locale(mail.locale), mail.display_name, mail.username)
    raise ValueError(f"unknown mail kind {mail.kind!r}")


class MailDispatcher(Dispatcher[Mail]):
    """The dispatcher of the ``mails`` queue."""

    name = "mails"

    def __init__(self, *args: Any, mailer: Mailer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mailer = mailer

    async def prepare(self, session: AsyncSession, rows: list[Mail]) -> None:
        return None

    def host(self, row: Mail) -> str:
        return "smtp"

    async def deliver(self, row: Mail) -> PushResult:
        try:
            await self.mailer.send(row.to_address, render(row))
        except aiosmtplib.SMTPResponseException as exc:
            # 5xx is permanent (no such mailbox, refused); 4xx is worth another try.
            return PushResult(Outcome.FAILED if exc.code >= 500 else Outcome.RETRY, status=exc.code)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            return PushResult(Outcome.RETRY)
        return PushResult(Outcome.SENT)

    async def settle(self, session: AsyncSession, results: list[tuple[Mail, PushResult]]) -> None:
        for row, result in results:
            MAILS.labels(row.kind, result.outcome.value).inc()
