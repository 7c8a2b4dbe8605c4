"""Who may talk to whom, for one request: the local replica first, friend-service to confirm a refusal.

The permission replica follows ``friend.events`` and lags behind friend-service by the consumer's delay:
a person who accepts a friend request and at once opens the chat would be refused. So a refusal ("not
friends", "blocked") is confirmed with friend-service before it is given, while a grant needs no call and
the hot path stays local. When friend-service cannot answer, the replica's refusal stands: a grant is
never made on a guess.

A confirmed friendship is written to the replica with the friendship's start as its version — the ``at`` of
the ``FriendRequestAccepted`` that made it — so the next check is local, and any later event about the pair
(an unfriend, a block) still wins. A lifted block is not written: friend-service keeps no version of a block
that is gone, so the replica waits for ``UserUnblocked`` (until then, each refusal asks again).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.metrics import PERMISSION_CONFIRMS
from app.repositories.permissions import PermissionRepository
from app.services.friend_directory import FriendDirectory
from chat_shared.relationships import Relationship


@dataclass
class Permissions:
    """The permission checks of one request, each asked on behalf of its caller: the first user of every
    method is the caller, whose bearer token (``authorization``) friend-service answers for."""

    session: AsyncSession
    directory: FriendDirectory
    authorization: str | None
    #: friend-service's answers in this request (None: it could not say), so one request asks once per user.
    _answers: dict[int, Relationship | None] = field(default_factory=dict, init=False)

    @property
    def replica(self) -> PermissionRepository:
        return PermissionRepository(self.session)

    async def _confirm(self, others: list[int]) -> dict[int, Relationship]:
        """friend-service's answers about ``others`` (those it could not give are left out)."""
        new = [u for u in others if u not in self._answers]
        if new and self.authorization:
            found = await self.directory.relationships(new, self.authorization)
            self._answers.update({u: found.get(u) if found is not None else None for u in new})
        return {u: answer for u in others if (answer := self._answers.get(u)) is not None}

    async def blocked_between(self, me: int, other: int) -> bool:
        """Whether either user blocks the other."""
        if not await self.replica.blocked_between(me, other):
            return False
        answer = (await self._confirm([other])).get(other)
        if answer is None:
            return True
        PERMISSION_CONFIRMS.labels("refused" if answer.blocked else "granted").inc()
        return answer.blocked

    async def are_friends(self, me: int, other: int) -> bool:
        """Whether ``me`` and ``other`` are friends."""
        return await self.replica.are_friends(me, other) or other in await self._confirmed_friends(me, [other])

    async def friends_among(self, me: int, others: list[int]) -> set[int]:
        """Which of ``others`` are friends of ``me``."""
        friends = await self.replica.friends_among(me, others)
        strangers = [u for u in others if u not in friends]
        if strangers:
            friends |= await self._confirmed_friends(me, strangers)
        return friends

    async def _confirmed_friends(self, me: int, strangers: list[int]) -> set[int]:
        """Which of ``strangers`` (not friends of ``me`` in the replica) friend-service says are friends."""
        friends: set[int] = set()
        for user, answer in (await self._confirm(strangers)).items():
            since = answer.friends_since if answer.friends and not answer.blocked else None
            PERMISSION_CONFIRMS.labels("refused" if since is None else "granted").inc()
            if since is not None:
                await self.replica.confirm_friendship(me, user, since)
                friends.add(user)
        return friends
