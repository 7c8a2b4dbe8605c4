"""The in-process stand-ins ``make dev`` runs on when no servers are configured, recognised by their URLs.

Each store has one seam in ``chat_shared`` that hides its stand-in from the services' code:
:mod:`chat_shared.dialect` (SQLite for MySQL), :func:`chat_shared.redis.create_redis` (fakeredis, with Lua)
and :mod:`chat_shared.mongo` (mongomock-motor). Deployed environments refuse all three
(:class:`chat_shared.settings.ServiceSettings`): they keep nothing across restarts and nothing between
processes.
"""

from __future__ import annotations

from enum import StrEnum


class StandIn(StrEnum):
    """A stand-in, named by its URL scheme (``sqlite+aiosqlite://``, ``fakeredis://``, ``mongomock://``)."""

    SQLITE = "sqlite"
    FAKEREDIS = "fakeredis"
    MONGOMOCK = "mongomock"


def stand_in(url: str) -> StandIn | None:
    """The stand-in ``url`` selects, or None for a real server's URL."""
    scheme = url.partition(":")[0].partition("+")[0].strip().lower()
    try:
        return StandIn(scheme)
    except ValueError:
        return None
