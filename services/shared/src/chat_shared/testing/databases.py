"""One MySQL database per test session, migrated with alembic, truncated between tests."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from chat_shared.migrations import upgrade_head

DEFAULT_SERVER = "mysql+aiomysql://root@127.0.0.1:3306"


def server_url() -> str:
    """The MySQL/MariaDB server the tests use (``TEST_MYSQL_URL``, no database part)."""
    return os.environ.get("TEST_MYSQL_URL", DEFAULT_SERVER)


async def create_database(prefix: str) -> str:
    """Create a fresh database and return its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = create_async_engine(server_url(), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    await engine.dispose()
    return make_url(server_url()).set(database=name).render_as_string(hide_password=False)


async def drop_database(url: str) -> None:
    """Drop a database made by :func:`create_database`."""
    name = make_url(url).database
    engine = create_async_engine(server_url(), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    await engine.dispose()


def migrate(service_dir: Path, url: str) -> None:
    """Apply the service's alembic migrations (blocking)."""
    upgrade_head(service_dir, url)


async def truncate_all(engine: AsyncEngine) -> None:
    """Empty every table but alembic's, so each test starts from a migrated, empty schema.

    DELETE rather than TRUNCATE keeps AUTO_INCREMENT counters, so ids stay unique across the session
    and a test can pick its own events out of a topic that earlier tests also wrote to.
    """
    async with engine.begin() as conn:
        tables = (
            (
                await conn.execute(
                    text(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
                        "AND table_name <> 'alembic_version'"
                    )
                )
            )
            .scalars()
            .all()
        )
        await conn.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
        for table in tables:
            await conn.execute(text(f"DELETE FROM `{table}`"))  # noqa: S608 - names from information_schema
        await conn.execute(text("SET FOREIGN_KEY_CHECKS = 1"))
