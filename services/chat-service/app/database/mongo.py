"""MongoDB through Beanie, on the client :func:`chat_shared.mongo.create_mongo_client` makes for the URL."""

from __future__ import annotations

from typing import Any

from beanie import init_beanie

from app.models.message import Message
from chat_shared.mongo import close_mongo_client, create_mongo_client

__all__ = ["close_mongo_client", "init_mongo", "ping"]


async def init_mongo(url: str, database: str) -> Any:
    """Open the client, register the documents and create their indexes."""
    client = create_mongo_client(url)
    await init_beanie(database=client[database], document_models=[Message])
    return client


async def ping(client: Any, database: str) -> None:
    """Readiness probe of MongoDB."""
    await client[database].command("ping")
