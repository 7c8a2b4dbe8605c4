"""Friend requests, friendships and blocks (CONTRACT §4).

Every change to a pair of users runs under the pair's row lock (``FriendRepository.lock_pair``), so
the checks below and the writes that follow are one atomic step per pair; unique constraints on the
pending pair and on friendships are the backstop. Events go to the outbox in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.metrics import BLOCKS, FRIEND_REQUESTS, FRIENDSHIPS_REMOVED
from app.kafka.events import request_event
from app.models.friend import Block, FriendRequest, RequestStatus, pair_key
from app.repositories.friends import FriendRepository
from app.schemas.friend import (
    BlockOut,
    BlockPage,
    FriendOut,
    FriendPage,
    FriendRequestOut,
    RequestPage,
)
from app.services.presence import PresenceReplica
from app.services.user_lookup import UserLookup, UserRef
from chat_shared.db import utcnow
from chat_shared.errors import BadRequest, Conflict, Forbidden, NotFound
from chat_shared.events.friend import (
    FriendRemoved,
    FriendRequestAccepted,
    FriendRequestCancelled,
    FriendRequestRejected,
    FriendRequestSent,
    UserBlocked,
    UserUnblocked,
)
from chat_shared.outbox import Outbox
from chat_shared.relationships import Relationship, RelationshipList


def request_out(request: FriendRequest) -> FriendRequestOut:
    """The public shape of a request."""
    return FriendRequestOut(
        id=request.id,
        requester_id=request.requester_id,
        addressee_id=request.addressee_id,
        status=request.status,
        created_at=request.created_at,
    )


@dataclass
class FriendService:
    """Use cases of one request, bound to its session."""

    session: AsyncSession
    outbox: Outbox
    users: UserLookup
    presence: PresenceReplica

    @property
    def repo(self) -> FriendRepository:
        return FriendRepository(self.session)

    async def _user(self, user_id: int) -> UserRef:
        user = await self.users.get(user_id)
        if user is None:
            raise NotFound("User not found")
        return user

    async def _other_user(self, me: int, other: int) -> None:
        if other == me:
            raise BadRequest("You cannot do that to yourself")
        # Outside the pair lock: a slow user-service must not hold a row lock.
        await self._user(other)

    # --- requests ---------------------------------------------------------------------------------

    async def send_request(self, me: int, other: int) -> tuple[FriendRequestOut, bool]:
        """Send a request; returns (request, created). A pending request the other way is accepted instead."""
        await self._other_user(me, other)
        repo = self.repo
        await repo.lock_pair(me, other)
        if await repo.blocked_either_way(me, other):
            raise Forbidden("You cannot send a friend request to this user")
        if await repo.are_friends(me, other):
            raise Conflict("You are already friends")
        pending = await repo.pending_between(me, other)
        if pending is not None:
            if pending.requester_id == me:
                raise Conflict("A friend request is already pending")
            await self._accept(pending)
            FRIEND_REQUESTS.labels("auto_accepted").inc()
            return request_out(pending), False
        request = FriendRequest(
            requester_id=me,
            addressee_id=other,
            status=RequestStatus.PENDING.value,
            pending_pair=pair_key(me, other),
            created_at=utcnow(),
        )
        try:
            async with self.session.begin_nested():
                self.session.add(request)
        except IntegrityError as exc:  # only without the pair lock (never expected): answer consistently
            raise Conflict("A friend request is already pending") from exc
        self.outbox.add(self.session, request_event(FriendRequestSent, request))
        FRIEND_REQUESTS.labels("sent").inc()
        return request_out(request), True

    async def _accept(self, request: FriendRequest) -> None:
        request.status = RequestStatus.ACCEPTED.value
        request.pending_pair = None
        # The friendship's ``since`` is its event's ``at``: one version of the pair for events and REST alike.
        request.responded_at = since = utcnow()
        try:
            async with self.session.begin_nested():
                self.repo.add_friendship(request.requester_id, request.addressee_id, since)
        except IntegrityError as exc:
            raise Conflict("You are already friends") from exc
        self.outbox.add(self.session, request_event(FriendRequestAccepted, request))

    async def _locked_request(self, me: int, request_id: int, role: str) -> FriendRequest:
        """The request, locked with its pair; 404 unknown, 403 not the caller's to act on, 409 not pending."""
        repo = self.repo
        request = await repo.request(request_id)
        if request is None:
            raise NotFound("Friend request not found")
        owner = request.addressee_id if role == "addressee" else request.requester_id
        if owner != me:
            raise Forbidden(f"Only the {role} can do this")
        await repo.lock_pair(request.requester_id, request.addressee_id)
        request = await repo.request(request_id, for_update=True)
        if request is None:  # pragma: no cover - requests are never deleted
            raise NotFound("Friend request not found")
        if request.status != RequestStatus.PENDING.value:
            raise Conflict(f"The friend request is already {request.status}")
        return request

    async def accept(self, me: int, request_id: int) -> FriendRequestOut:
        """The addressee accepts: both are friends."""
        request = await self._locked_request(me, request_id, "addressee")
        await self._accept(request)
        FRIEND_REQUESTS.labels("accepted").inc()
        return request_out(request)

    async def reject(self, me: int, request_id: int) -> FriendRequestOut:
        """The addressee declines."""
        request = await self._locked_request(me, request_id, "addressee")
        self._close(request, RequestStatus.REJECTED)
        self.outbox.add(self.session, request_event(FriendRequestRejected, request))
        FRIEND_REQUESTS.labels("rejected").inc()
        return request_out(request)

    async def cancel(self, me: int, request_id: int) -> None:
        """The requester withdraws."""
        request = await self._locked_request(me, request_id, "requester")
        self._close(request, RequestStatus.CANCELLED)
        self.outbox.add(self.session, request_event(FriendRequestCancelled, request))
        FRIEND_REQUESTS.labels("cancelled").inc()

    @staticmethod
    def _close(request: FriendRequest, status: RequestStatus) -> None:
        request.status = status.value
        request.pending_pair = None
        request.responded_at = utcnow()

    async def pending(self, me: int, incoming: bool, cursor: int | None, limit: int) -> RequestPage:
        """Pending requests to or from the caller, newest first."""
        rows = await self.repo.pending_page(me, incoming, cursor, limit + 1)
        next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
        return RequestPage(items=[request_out(r) for r in rows[:limit]], next_cursor=next_cursor)

    # --- friendships ------------------------------------------------------------------------------

    async def friends(self, me: int, cursor: int | None, limit: int) -> FriendPage:
        """The caller's friends with their current names and presence."""
        rows = await self.repo.friends_page(me, cursor, limit + 1)
        next_cursor = str(rows[limit - 1].friend_id) if len(rows) > limit else None
        rows = rows[:limit]
        online = await self.presence.online([r.friend_id for r in rows])
        return FriendPage(
            items=[
                FriendOut(
                    user_id=r.friend_id,
                    username=r.username or "",
                    display_name=r.display_name or "",
                    avatar_url=r.avatar_url,
                    is_online=r.friend_id in online,
                    since=r.since,
                )
                for r in rows
            ],
            next_cursor=next_cursor,
        )

    async def unfriend(self, me: int, other: int) -> None:
        """End the friendship for both; 404 if there is none."""
        repo = self.repo
        await repo.lock_pair(me, other)
        if not await repo.remove_friendship(me, other):
            raise NotFound("You are not friends with this user")
        self.outbox.add(self.session, FriendRemoved(at=utcnow(), user_id=me, friend_id=other))
        FRIENDSHIPS_REMOVED.inc()

    async def relationships(self, me: int, others: list[int]) -> RelationshipList:
        """Friendship and blocks between the caller and each of ``others``, as committed now."""
        unique = list(dict.fromkeys(others))
        since = await self.repo.friends_since(me, unique)
        blocked = await self.repo.blocked_among(me, unique)
        return RelationshipList(
            items=[
                Relationship(user_id=u, friends=u in since, friends_since=since.get(u), blocked=u in blocked)
                for u in unique
            ]
        )

    # --- blocks -----------------------------------------------------------------------------------

    async def block(self, me: int, other: int) -> BlockOut:
        """Block a user: ends any friendship and pending request between the two."""
        await self._other_user(me, other)
        repo = self.repo
        await repo.lock_pair(me, other)
        if await repo.block(me, other) is not None:
            raise Conflict("You already blocked this user")
        if await repo.remove_friendship(me, other):
            self.outbox.add(self.session, FriendRemoved(at=utcnow(), user_id=me, friend_id=other))
            FRIENDSHIPS_REMOVED.inc()
        pending = await repo.pending_between(me, other)
        if pending is not None:
            self._close(pending, RequestStatus.CANCELLED)
            self.outbox.add(self.session, request_event(FriendRequestCancelled, pending))
            FRIEND_REQUESTS.labels("cancelled").inc()
        block = Block(blocker_id=me, blocked_id=other, created_at=utcnow())
        try:
            async with self.session.begin_nested():
                self.session.add(block)
        except IntegrityError as exc:
            raise Conflict("You already blocked this user") from exc
        self.outbox.add(self.session, UserBlocked(at=utcnow(), blocker_id=me, blocked_id=other))
        BLOCKS.labels("blocked").inc()
        user = await self._user(other)
        return BlockOut(
            user_id=other, username=user.username, display_name=user.display_name, created_at=block.created_at
        )

    async def unblock(self, me: int, other: int) -> None:
        """Lift a block (the friendship is not restored)."""
        repo = self.repo
        await repo.lock_pair(me, other)
        block = await repo.block(me, other)
        if block is None:
            raise NotFound("You have not blocked this user")
        await self.session.delete(block)
        self.outbox.add(self.session, UserUnblocked(at=utcnow(), blocker_id=me, blocked_id=other))
        BLOCKS.labels("unblocked").inc()

    async def blocks(self, me: int, cursor: int | None, limit: int) -> BlockPage:
        """Users the caller blocked."""
        rows = await self.repo.blocks_page(me, cursor, limit + 1)
        next_cursor = str(rows[limit - 1][0].blocked_id) if len(rows) > limit else None
        return BlockPage(
            items=[
                BlockOut(
                    user_id=b.blocked_id,
                    username=u.username if u else "",
                    display_name=u.display_name if u else "",
                    created_at=b.created_at,
                )
                for b, u in rows[:limit]
            ],
            next_cursor=next_cursor,
        )
