"""MongoDB through Beanie: a real Motor client, or mongomock-motor for ``mongomock://`` (dev mode, tests)."""

from __future__ import annotations

from typing import Any

from beanie import init_beanie

from app.models.message import Message

#: One in-process mock client per process, so several app instances in one test process share messages
#: exactly as several processes share a real MongoDB.
_MOCK_CLIENT: Any = None


def create_client(url: str) -> Any:
    """A Motor client (or its in-process mock) for ``url``."""
    global _MOCK_CLIENT
    if url.startswith("mongomock://"):
        if _MOCK_CLIENT is None:
            from mongomock_motor import AsyncMongoMockClient

            _MOCK_CLIENT = AsyncMongoMockClient()
        return _MOCK_CLIENT
    from motor.motor_asyncio import AsyncIOMotorClient

    return AsyncIOMotorClient(url, serverSelectionTimeoutMS=3000, tz_aware=True)


async def init_mongo(url: str, database: str) -> Any:
    """Open the client, register the documents and create their indexes."""
    client = create_client(url)
    await init_beanie(database=client[database], document_models=[Message])
    return client


async def ping(client: Any, database: str) -> None:
    """Readiness probe of MongoDB."""
    await client[database].command("ping")
