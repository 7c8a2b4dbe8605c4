"""MongoDB client factory: a Motor client, or mongomock-motor in process for ``mongomock://`` (``make dev``).

Both answer the same Motor API (mongomock-motor wraps mongomock in Motor's classes), so Beanie and the
callers never know which one they have. Motor is imported only here, when called: only the services that
keep documents depend on it.

A process holds one client per URL, shared by every app instance in it and closed when the last of them
closes it: Beanie binds its document classes to one database per process, so a second app started and
stopped in the same process (a test) must not close the client the first one's documents use.
"""

from __future__ import annotations

from typing import Any

from chat_shared.standins import StandIn, stand_in

#: One in-process client per process, so several app instances in one test process share documents
#: exactly as several processes share a real MongoDB.
_IN_PROCESS: Any = None
#: URL -> [client, number of holders] for real servers.
_SHARED: dict[str, list[Any]] = {}


def create_mongo_client(url: str) -> Any:
    """A Motor client for ``url`` (timezone-aware, 3 s to find a server), or the process's in-process one."""
    global _IN_PROCESS
    if stand_in(url) is StandIn.MONGOMOCK:
        if _IN_PROCESS is None:
            from mongomock_motor import AsyncMongoMockClient

            _IN_PROCESS = AsyncMongoMockClient()
        return _IN_PROCESS
    if url in _SHARED:
        _SHARED[url][1] += 1
        return _SHARED[url][0]
    from motor.motor_asyncio import AsyncIOMotorClient

    client: Any = AsyncIOMotorClient(url, serverSelectionTimeoutMS=3000, tz_aware=True)
    _SHARED[url] = [client, 1]
    return client


def close_mongo_client(client: Any) -> None:
    """Release a client from :func:`create_mongo_client`: closed once its last holder releases it; the
    in-process one holds the documents, and lives on."""
    if client is _IN_PROCESS:
        return
    for url, entry in list(_SHARED.items()):
        if entry[0] is client:
            entry[1] -= 1
            if entry[1] > 0:
                return
            del _SHARED[url]
    client.close()
