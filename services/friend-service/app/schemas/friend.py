"""Request and response bodies of friend requests, friendships and blocks (CONTRACT §4)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from chat_shared.schemas import ClosedModel, Id, Timestamp


class UserRef(ClosedModel):
    """``POST /friends/requests`` and ``POST /blocks``: the other user."""

    user_id: Id


class FriendRequestOut(BaseModel):
    """A friend request."""

    id: int
    requester_id: int
    addressee_id: int
    status: Literal["pending", "accepted", "rejected", "cancelled"]
    created_at: Timestamp


class RequestPage(BaseModel):
    """A page of pending requests, newest first."""

    items: list[FriendRequestOut]
    next_cursor: str | None = None


class FriendOut(BaseModel):
    """A friend of the caller, with their current profile and presence."""

    user_id: int
    username: str
    display_name: str
    avatar_url: str | None = None
    is_online: bool
    since: Timestamp


class FriendPage(BaseModel):
    """A page of friends, by user id."""

    items: list[FriendOut]
    next_cursor: str | None = None


class BlockOut(BaseModel):
    """A user the caller blocked."""

    user_id: int
    username: str
    display_name: str
    created_at: Timestamp


class BlockPage(BaseModel):
    """A page of blocked users, by user id."""

    items: list[BlockOut]
    next_cursor: str | None = None
