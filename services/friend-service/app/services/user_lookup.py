"""The port friend use cases find users through: they ask for a user by id, not how to reach them.

The application builds one per request (:func:`app.api.deps.get_user_lookup`): the replica first,
then user-service on the caller's behalf (:class:`app.services.user_directory.DirectoryLookup`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class UserRef:
    """A user's public names."""

    id: int
    username: str
    display_name: str


class UserLookup(Protocol):
    """Users by id."""

    async def get(self, user_id: int) -> UserRef | None:
        """The user, None if nobody knows them; raises ``ServiceUnavailable`` when that cannot be told."""
        ...
