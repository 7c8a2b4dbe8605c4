"""The mails BigTech Chat sends, in Korean and English: each renders to a subject, a plain-text part and
an HTML part. Values are escaped for the HTML part; templates are code (not files) so a mail and its
translation change in one review."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from string import Template

from chat_shared.mail.locale import Locale


@dataclass(frozen=True, slots=True)
class Rendered:
    """A mail ready to send."""

    locale: Locale
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class _Template:
    subject: str
    text: str
    html: str

    def render(self, locale: Locale, **values: str) -> Rendered:
        escaped = {k: escape(v) for k, v in values.items()}
        return Rendered(
            locale=locale,
            subject=Template(self.subject).substitute(values),
            text=Template(self.text).substitute(values),
            html=_page(locale, Template(self.html).substitute(escaped)),
        )


def _page(locale: Locale, body: str) -> str:
    return (
        f'<!doctype html><html lang="{locale}"><head><meta charset="utf-8"></head>'
        f'<body style="font-family:sans-serif;line-height:1.5">{body}</body></html>'
    )


WELCOME: dict[Locale, _Template] = {
    "en": _Template(
        subject="Welcome to BigTech Chat, $name",
        text="Hi $name,\n\nyour BigTech Chat account $username is ready. Add friends and start a conversation.\n\n"
        "— BigTech Chat\n",
        html="<p>Hi $name,</p><p>your BigTech Chat account <b>$username</b> is ready. "
        "Add friends and start a conversation.</p><p>— BigTech Chat</p>",
    ),
    "ko": _Template(
        subject="$name님, BigTech Chat에 오신 것을 환영합니다",
        text="$name님, 안녕하세요.\n\nBigTech Chat 계정 $username 이(가) 만들어졌습니다. "
        "친구를 추가하고 대화를 시작해 보세요.\n\n— BigTech Chat\n",
        html="<p>$name님, 안녕하세요.</p><p>BigTech Chat 계정 <b>$username</b> 이(가) 만들어졌습니다. "
        "친구를 추가하고 대화를 시작해 보세요.</p><p>— BigTech Chat</p>",
    ),
}

PASSWORD_RESET: dict[Locale, _Template] = {
    "en": _Template(
        subject="Reset your BigTech Chat password",
        text="Hi $name,\n\nsomeone asked to reset the password of your BigTech Chat account. If it was you, open\n"
        "$url\nwithin $minutes minutes. The link works once. If it was not you, ignore this mail.\n\n— BigTech Chat\n",
        html="<p>Hi $name,</p><p>someone asked to reset the password of your BigTech Chat account. If it was you, "
        '<a href="$url">choose a new password</a> within $minutes minutes. The link works once.</p>'
        "<p>If it was not you, ignore this mail.</p><p>— BigTech Chat</p>",
    ),
    "ko": _Template(
        subject="BigTech Chat 비밀번호 재설정",
        text="$name님, 안녕하세요.\n\nBigTech Chat 계정의 비밀번호 재설정이 요청되었습니다. "
        "본인이 요청했다면 $minutes분 안에\n"
        "$url\n을 여세요. 링크는 한 번만 쓸 수 있습니다. 요청하지 않았다면 이 메일을 무시하세요.\n\n— BigTech Chat\n",
        html="<p>$name님, 안녕하세요.</p><p>BigTech Chat 계정의 비밀번호 재설정이 요청되었습니다. 본인이 요청했다면 "
        '$minutes분 안에 <a href="$url">새 비밀번호를 정하세요</a>. 링크는 한 번만 쓸 수 있습니다.</p>'
        "<p>요청하지 않았다면 이 메일을 무시하세요.</p><p>— BigTech Chat</p>",
    ),
}


def welcome(locale: Locale, display_name: str, username: str) -> Rendered:
    """The mail a new account receives."""
    return WELCOME[locale].render(locale, name=display_name, username=username)


def password_reset(locale: Locale, display_name: str, url: str, minutes: int) -> Rendered:
    """The mail holding a password-reset link (sent by user-service itself: the token stays there)."""
    return PASSWORD_RESET[locale].render(locale, name=display_name, url=url, minutes=str(minutes))
