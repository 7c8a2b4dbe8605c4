"""chat_shared's own suite: the consumer runner, the outbox relay and token verification, on a real
MariaDB database, the broker and local HTTP servers — the plugin every service's suite uses.

The database holds the shared tables (outbox, processed events) and ``applied``, where the tests'
event handlers write, so a handler's effect commits or rolls back with the runner's transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import MetaData, String
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import chat_shared.consumer
import chat_shared.outbox  # noqa: F401 - their tables join Base.metadata
from chat_shared.db import Base, create_engine, create_sessionmaker
from chat_shared.kafka import ProducerHolder
from chat_shared.settings import Environment, ServiceSettings
from chat_shared.testing import databases

pytest_plugins = ["chat_shared.testing.fixtures"]

SERVICE = "shared-tests"


class TestBase(DeclarativeBase):
    """Tables of the tests only."""

    metadata = MetaData()


class Applied(TestBase):
    """What a test's handler did: one row per applied event."""

    __tablename__ = "applied"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


@pytest.fixture(scope="session")
async def mysql_url() -> AsyncIterator[str]:
    """A fresh database with the shared tables and the tests' own, dropped at the end of the session."""
    url = await databases.create_database("test_shared")
    engine = create_engine(url, SERVICE)
    async with engine.begin() as conn:
        for metadata in (Base.metadata, TestBase.metadata):
            await conn.run_sync(metadata.create_all)
    await engine.dispose()
    try:
        yield url
    finally:
        await databases.drop_database(url)


@pytest.fixture(scope="session")
async def engine(mysql_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(mysql_url, SERVICE)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture(autouse=True)
async def _clean(engine: AsyncEngine) -> None:
    await databases.truncate_all(engine)


@pytest.fixture(scope="session")
def settings(mysql_url: str, kafka_bootstrap: str) -> ServiceSettings:
    return ServiceSettings(
        service_name=SERVICE,
        environment=Environment.TEST,
        database_url=mysql_url,
        kafka_bootstrap=kafka_bootstrap,
        kafka_enable_idempotence=False,
    )


@pytest.fixture
async def producers(settings: ServiceSettings) -> AsyncIterator[ProducerHolder]:
    holder = ProducerHolder(settings)
    try:
        yield holder
    finally:
        await holder.close()
