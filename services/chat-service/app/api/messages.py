"""``/rooms/{id}/messages``: send, history, edit, delete, reactions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import AfterValidator

from app.api.deps import AttachmentUrlsDep, MessageServiceDep, RoomMemberDep
from app.schemas.message import EMOJI_PATTERN, MessageCreate, MessageOut, MessagePage, MessageUpdate, valid_emoji
from chat_shared.errors import Unprocessable
from chat_shared.responses import CONFLICT, MEMBER, TOO_LARGE, error
from chat_shared.schemas import Id, Seq

router = APIRouter(prefix="/rooms/{room_id}/messages", tags=["messages"], responses=MEMBER)

MessageId = Annotated[str, Path(min_length=1, max_length=64, description="A message's `id`; unknown ids are 404")]


def _one_emoji(value: str) -> str:
    if not valid_emoji(value):
        raise ValueError("emoji must be exactly one emoji (at most 64 bytes)")
    return value


#: The pattern is what a generated client can check; the emoji data check runs on the server only.
Emoji = Annotated[str, Path(min_length=1, max_length=32, pattern=EMOJI_PATTERN), AfterValidator(_one_emoji)]


# 403: not the sender (edit, delete) or a block between the members of a direct room; 404: the room or the
# message does not exist; 409: the message was deleted.
ON_MESSAGE = error(403, "Not a member, not the sender, or blocked") | error(404, "No such room or message")


@router.post(
    "",
    response_model=MessageOut,
    status_code=status.HTTP_201_CREATED,
    responses=TOO_LARGE
    | error(409, "The attachment's upload is not there yet (`upload not found`), or another message has it")
    | {200: {"model": MessageOut, "description": "A retry: the original message"}},
)
async def send_message(
    body: MessageCreate, access: RoomMemberDep, messages: MessageServiceDep, urls: AttachmentUrlsDep, response: Response
) -> MessageOut:
    """Send; 201 means durable. The same ``client_msg_id`` again returns the original (200).

    An ``image`` or ``file`` message carries an uploaded ``attachment_id``; its upload must hold what was
    declared (422)."""
    sent = await messages.send(access.room, access.member, body)
    if not sent.created:
        response.status_code = status.HTTP_200_OK
    return urls.sign(sent.message)


@router.get("", response_model=MessagePage)
async def history(
    access: RoomMemberDep,
    messages: MessageServiceDep,
    urls: AttachmentUrlsDep,
    before: Annotated[Id | None, Query(description="Messages before this seq")] = None,
    after: Annotated[Seq | None, Query(description="Messages after this seq")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> MessagePage:
    """A page in ascending seq: the newest (before ``before``), or forward from ``after``."""
    if before is not None and after is not None:
        raise Unprocessable("use either before or after, not both", loc=("query", "after"))
    page = await messages.history(access.room, before=before, after=after, limit=limit)
    urls.sign_all(page.items)
    return page


@router.patch("/{message_id}", response_model=MessageOut, responses=ON_MESSAGE | CONFLICT | TOO_LARGE)
async def edit_message(
    message_id: MessageId,
    body: MessageUpdate,
    access: RoomMemberDep,
    messages: MessageServiceDep,
    urls: AttachmentUrlsDep,
) -> MessageOut:
    """Edit (sender only)."""
    return urls.sign(await messages.edit(access.room, message_id, access.user_id, body.content))


@router.delete("/{message_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ON_MESSAGE)
async def delete_message(message_id: MessageId, access: RoomMemberDep, messages: MessageServiceDep) -> Response:
    """Soft delete (sender only)."""
    await messages.delete(access.room, message_id, access.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/{message_id}/reactions/{emoji}", response_model=MessageOut, responses=ON_MESSAGE | CONFLICT)
async def add_reaction(
    message_id: MessageId, emoji: Emoji, access: RoomMemberDep, messages: MessageServiceDep, urls: AttachmentUrlsDep
) -> MessageOut:
    """React (idempotent): one emoji; 409 past the message's reaction limits (50 emoji, 5000 reactions)."""
    return urls.sign(await messages.react(access.room, message_id, access.user_id, emoji, add=True))


@router.delete("/{message_id}/reactions/{emoji}", response_model=MessageOut, responses=ON_MESSAGE | CONFLICT)
async def remove_reaction(
    message_id: MessageId, emoji: Emoji, access: RoomMemberDep, messages: MessageServiceDep, urls: AttachmentUrlsDep
) -> MessageOut:
    """Take a reaction back (idempotent)."""
    return urls.sign(await messages.react(access.room, message_id, access.user_id, emoji, add=False))
