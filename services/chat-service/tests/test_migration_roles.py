"""Migration 0003 on a database with rooms: each group's creator becomes its owner, or its longest-standing
member where the creator has left; direct rooms' members and everyone else are members; settings start at
"not muted, notify all"."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from chat_shared.migrations import alembic_config
from chat_shared.testing.databases import create_database, drop_database

ROWS = """
INSERT INTO rooms (id, type, name, pair_key, created_by, last_seq, created_at, last_activity_at) VALUES
 (1, 'group', 'kept', NULL, 10, 0, '2026-01-01', '2026-01-01'),
 (2, 'group', 'left', NULL, 20, 0, '2026-01-01', '2026-01-01'),
 (3, 'direct', NULL, '30:31', 30, 0, '2026-01-01', '2026-01-01');
INSERT INTO room_members (room_id, user_id, last_read_seq, joined_at) VALUES
 (1, 10, 0, '2026-01-01'), (1, 11, 0, '2026-01-01'),
 (2, 23, 0, '2026-01-01'), (2, 21, 0, '2026-01-02'), (2, 22, 0, '2026-01-01'),
 (3, 30, 0, '2026-01-01'), (3, 31, 0, '2026-01-01')
"""


async def test_upgrade_gives_every_group_one_owner(service_dir: Path) -> None:
    url = await create_database("test_chat_mig")
    engine = create_async_engine(url)
    try:
        config = alembic_config(service_dir, url)
        await asyncio.to_thread(command.upgrade, config, "0002")
        async with engine.begin() as conn:
            for statement in ROWS.strip().split(";"):
                await conn.execute(text(statement))
        await asyncio.to_thread(command.upgrade, config, "0003")
        async with engine.connect() as conn:
            rows = (
                await conn.execute(text("SELECT room_id, user_id, role, muted_until, notify FROM room_members"))
            ).all()
        roles = {(room, user): role for room, user, role, _, _ in rows}
        assert roles == {
            (1, 10): "owner",
            (1, 11): "member",
            (2, 21): "member",
            (2, 22): "owner",  # joined first (tied with 23, lower id)
            (2, 23): "member",
            (3, 30): "member",
            (3, 31): "member",
        }
        assert {(muted, notify) for *_, muted, notify in rows} == {(None, "all")}
        await asyncio.to_thread(command.downgrade, config, "0002")
    finally:
        await engine.dispose()
        await drop_database(url)
