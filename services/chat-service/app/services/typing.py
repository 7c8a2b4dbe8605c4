"""Typing indicators (CONTRACT §8): debounced per user and room in Redis, delivered as an ephemeral event."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from app.stream.ephemeral import TYPING, EphemeralBus

#: How long a client shows "typing…" after the event unless another one comes.
TYPING_EXPIRES_S = 5
#: A second call of the same user in the same room within this window is not broadcast again.
DEBOUNCE_MS = 2000


def debounce_key(room_id: int, user_id: int) -> str:
    return f"chat:typing:{room_id}:{user_id}"


@dataclass
class Typing:
    """Announces that a member is typing to the room's other members."""

    redis: Redis
    bus: EphemeralBus

    async def typing(self, room_id: int, user_id: int, member_ids: list[int]) -> bool:
        """Broadcast unless this user announced typing in this room within the debounce window; True if sent.

        ``SET NX PX`` claims the window atomically, so two calls racing on two processes broadcast once.
        """
        if not await self.redis.set(debounce_key(room_id, user_id), b"1", nx=True, px=DEBOUNCE_MS):
            return False
        others = [u for u in member_ids if u != user_id]
        await self.bus.publish(TYPING, others, {"room_id": room_id, "user_id": user_id, "expires_in": TYPING_EXPIRES_S})
        return True
