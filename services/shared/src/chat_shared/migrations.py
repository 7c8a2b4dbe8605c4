"""Alembic glue shared by every service's ``alembic/env.py`` and by run-on-start in dev mode, and the DDL of
the tables every service has (the transactional outbox and the consumers' processed events).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command, op
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from chat_shared.db import UTCDateTime
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


# The outbox and processed-events DDL, versioned by name. Applied migrations call these functions, so
# their DDL is frozen: a schema change is a new function (``..._v2``) called by a new migration of every
# service, never an edit here. The types are spelled out rather than taken from the models for the same
# reason; the models (chat_shared.outbox, chat_shared.consumer) must describe the latest version.


def create_outbox_tables_v1() -> None:
    """Create ``outbox`` (with its pending-rows index) and ``processed_events``, inside a migration."""
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("traceparent", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    op.create_index("ix_outbox_pending", "outbox", ["published_at", "id"], unique=False)
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_processed_events")),
    )


def drop_outbox_tables_v1() -> None:
    """Drop what :func:`create_outbox_tables_v1` created, inside a migration's downgrade."""
    op.drop_table("processed_events")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_table("outbox")


def widen_outbox_envelope_v2() -> None:
    """``outbox.envelope`` becomes MEDIUMTEXT (16 MiB) on MySQL, inside a migration.

    A TEXT column holds 64 KiB, less than a message event can reach (a message's snapshot with its
    reactions at their bounds, see docs/chat-service.md, "Limits"); an envelope that does not fit fails the
    commit of the change it announces. SQLite's TEXT has no such limit, so nothing changes there.
    """
    if op.get_context().dialect.name == "mysql":
        op.alter_column(
            "outbox", "envelope", type_=mysql.MEDIUMTEXT(), existing_type=sa.Text(), existing_nullable=False
        )


def narrow_outbox_envelope_v2() -> None:
    """Undo :func:`widen_outbox_envelope_v2`, inside a migration's downgrade (fails while a longer row exists)."""
    if op.get_context().dialect.name == "mysql":
        op.alter_column(
            "outbox", "envelope", type_=sa.Text(), existing_type=mysql.MEDIUMTEXT(), existing_nullable=False
        )
