"""MongoDB client factory: a Motor client, or mongomock-motor in process for ``mongomock://`` (``make dev``).

Both answer the same Motor API (mongomock-motor wraps mongomock in Motor's classes), so Beanie and the
callers never know which one they have. Motor is imported only here, when called: only the services that
keep documents depend on it.
"""

from __future__ import annotations

from typing import Any

from chat_shared.standins import StandIn, stand_in

#: One in-process client per process, so several app instances in one test process share documents
#: exactly as several processes share a real MongoDB.
_IN_PROCESS: Any = None


def create_mongo_client(url: str) -> Any:
    """A Motor client for ``url`` (timezone-aware, 3 s to find a server), or the process's in-process one."""
    global _IN_PROCESS
    if stand_in(url) is StandIn.MONGOMOCK:
        if _IN_PROCESS is None:
            from mongomock_motor import AsyncMongoMockClient

            _IN_PROCESS = AsyncMongoMockClient()
        return _IN_PROCESS
    from motor.motor_asyncio import AsyncIOMotorClient

    return AsyncIOMotorClient(url, serverSelectionTimeoutMS=3000, tz_aware=True)


def close_mongo_client(client: Any) -> None:
    """Close a client from :func:`create_mongo_client`; the in-process one holds the documents, and lives on."""
    if client is not _IN_PROCESS:
        client.close()
