"""The repositories' one-statement upserts behave the same on MariaDB and on make dev's SQLite file."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models.friend import FriendPair, ReplicaUser
from app.repositories.friends import FriendRepository
from app.repositories.users import UserReplica
from chat_shared import db
from chat_shared.migrations import upgrade_head

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["mariadb", "sqlite"])
async def sessions(
    request: pytest.FixtureRequest, service_dir: Path, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the suite's migrated MariaDB database, or on a SQLite file migrated the way make dev does."""
    if request.param == "mariadb":
        url = request.getfixturevalue("mysql_url")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'friend.db'}"
        await asyncio.to_thread(upgrade_head, service_dir, url)
    engine = db.create_engine(url, "friend-service")
    try:
        yield db.create_sessionmaker(engine)
    finally:
        await engine.dispose()


def new_id() -> int:
    return random.randint(10**12, 10**15)


async def test_a_replica_row_is_only_overwritten_by_a_newer_profile(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    user_id = new_id()

    async def upsert(name: str, at: datetime) -> tuple[str, str, datetime]:
        async with sessions() as session:
            await UserReplica(session).upsert_if_newer(user_id, f"u{user_id}", name, at)
            await session.commit()
        async with sessions() as session:
            row = await session.get(ReplicaUser, user_id)
            assert row is not None
            return row.username, row.display_name, row.updated_at

    assert await upsert("first", T0) == (f"u{user_id}", "first", T0)
    assert await upsert("older", T0 - timedelta(seconds=1)) == (f"u{user_id}", "first", T0)
    assert await upsert("same time", T0) == (f"u{user_id}", "first", T0)
    later = T0 + timedelta(microseconds=1)
    assert await upsert("newer", later) == (f"u{user_id}", "newer", later)


async def test_locking_a_pair_creates_its_row_then_bumps_its_version(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    a, b = new_id(), new_id()
    for expected, (first, second) in enumerate([(a, b), (b, a), (a, b)]):
        async with sessions() as session:
            await FriendRepository(session).lock_pair(first, second)
            await session.commit()
        async with sessions() as session:
            row = await session.get(FriendPair, (min(a, b), max(a, b)))
            assert row is not None and row.version == expected
