"""friend-service's ``GET /internal/relationships``, asked to confirm a refusal of the permission replica.

A bounded call behind a circuit breaker (:mod:`chat_shared.upstream`). It never fails a request: when
friend-service cannot answer (down, slow, circuit open) the answer is None and the replica's refusal stands.
"""

from __future__ import annotations

import structlog
from pydantic import ValidationError

from app.core.config import Settings
from app.core.metrics import PERMISSION_CONFIRMS
from chat_shared.relationships import MAX_ASKED, RELATIONSHIPS_PATH, Relationship, RelationshipList
from chat_shared.upstream import CircuitBreaker, Upstream, UpstreamUnavailable

log = structlog.get_logger(__name__)


class FriendDirectory:
    """friend-service's view of the caller's relationships, bounded in time and guarded by a circuit breaker."""

    def __init__(self, base_url: str, timeout_s: float, threshold: int, open_s: float) -> None:
        self.upstream = Upstream("friend-service", base_url, timeout_s, threshold, open_s)

    @property
    def breaker(self) -> CircuitBreaker:
        """The circuit guarding friend-service."""
        return self.upstream.breaker

    @classmethod
    def from_settings(cls, settings: Settings) -> FriendDirectory:
        """A directory configured from settings."""
        return cls(
            settings.friend_service_url,
            settings.friend_check_timeout_s,
            settings.friend_check_failure_threshold,
            settings.friend_check_open_s,
        )

    async def close(self) -> None:
        """Close the connection pool."""
        await self.upstream.close()

    async def relationships(self, others: list[int], authorization: str) -> dict[int, Relationship] | None:
        """The relationship of the token's user with each of ``others``; None when friend-service cannot say."""
        answers: dict[int, Relationship] = {}
        for start in range(0, len(others), MAX_ASKED):
            asked = others[start : start + MAX_ASKED]
            try:
                response = await self.upstream.get(
                    RELATIONSHIPS_PATH, {"user_ids": [str(u) for u in asked]}, authorization
                )
                items = RelationshipList.model_validate_json(response.content).items
            except UpstreamUnavailable as exc:
                PERMISSION_CONFIRMS.labels("circuit_open" if exc.circuit_open else "error").inc()
                if not exc.circuit_open:
                    log.warning("permission_confirm_failed", reason=exc.reason)
                return None
            except ValidationError as exc:
                PERMISSION_CONFIRMS.labels("error").inc()
                log.warning("permission_confirm_failed", reason=f"unexpected body: {exc.error_count()} errors")
                return None
            answers.update((r.user_id, r) for r in items if r.user_id in asked)
        return answers
