"""Alembic glue shared by every service's ``alembic/env.py`` and by run-on-start in dev mode."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from chat_shared.dialect import batch_alter


def run_env(target_metadata: MetaData, url: str, offline: bool) -> None:
    """Body of an ``env.py``: run migrations online through the async driver, or emit SQL offline."""
    from alembic import context

    if offline:
        context.configure(
            url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=batch_alter(url)
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    def do_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=batch_alter(url),
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())


def alembic_config(service_dir: Path, url: str) -> Config:
    """The service's alembic config pointed at ``url``."""
    config = Config(str(service_dir / "alembic.ini"))
    config.set_main_option("script_location", str(service_dir / "alembic"))
    config.attributes["database_url"] = url
    return config


def upgrade_head(service_dir: Path, url: str) -> None:
    """``alembic upgrade head`` for one service; blocking (call it in a thread from async code)."""
    command.upgrade(alembic_config(service_dir, url), "head")
