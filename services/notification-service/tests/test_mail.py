"""The welcome mail: queued from ``UserRegistered`` (once, however often the event arrives), rendered in the
language captured at registration, delivered over SMTP to the sink ``make dev`` runs."""

from __future__ import annotations

from datetime import UTC, datetime

from chat_shared.events.user import UserRegistered
from chat_shared.testing.smtp_sink import SmtpSink
from chat_shared.testing.waiting import eventually
from tests.helpers import World, next_id, publish


async def test_registering_sends_the_welcome_mail_in_the_users_language(world: World, smtp_sink: SmtpSink) -> None:
    korean, english = next_id(), next_id()
    events = [
        UserRegistered(
            user_id=korean,
            username=f"k{korean}",
            display_name="민수",
            email=f"k{korean}@example.com",
            locale="ko",
            created_at=datetime.now(UTC),
        ),
        UserRegistered(
            user_id=english,
            username=f"e{english}",
            display_name="Ann <b>",
            email=f"e{english}@example.com",
            locale=None,
            created_at=datetime.now(UTC),
        ),
    ]
    await publish(world.bootstrap, *events, events[0])  # the first one twice: a replay adds no second mail

    await eventually(
        lambda: smtp_sink.to(f"k{korean}@example.com") and smtp_sink.to(f"e{english}@example.com"), "both mails"
    )
    [ko] = smtp_sink.to(f"k{korean}@example.com")
    assert ko["Subject"] == "민수님, BigTech Chat에 오신 것을 환영합니다"
    assert ko["Content-Language"] == "ko"
    text = ko.get_body(("plain",))
    html = ko.get_body(("html",))
    assert text is not None and html is not None
    assert f"k{korean}" in text.get_content() and "민수님" in html.get_content()

    [en] = smtp_sink.to(f"e{english}@example.com")
    assert en["Subject"] == "Welcome to BigTech Chat, Ann <b>"
    en_html = en.get_body(("html",))
    assert en_html is not None and "Ann &lt;b&gt;" in en_html.get_content()  # names are escaped in HTML
    files = sorted(p.name for p in smtp_sink.directory.glob("*.eml"))
    assert any(name.endswith(f"-k{korean}@example.com.eml") for name in files)
    assert len(smtp_sink.to(f"k{korean}@example.com")) == 1


async def test_a_user_without_an_address_gets_no_mail(world: World, smtp_sink: SmtpSink) -> None:
    quiet, marker = next_id(), next_id()
    await publish(
        world.bootstrap,
        UserRegistered(user_id=quiet, username=f"q{quiet}", display_name="Q", created_at=datetime.now(UTC)),
        UserRegistered(
            user_id=marker,
            username=f"m{marker}",
            display_name="M",
            email=f"m{marker}@example.com",
            created_at=datetime.now(UTC),
        ),
    )
    await eventually(lambda: smtp_sink.to(f"m{marker}@example.com"), "the later user's mail")
    assert not [m for m in smtp_sink.messages if f"q{quiet}" in m.as_string()]
