"""member roles and per-member settings on room_members

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 20:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chat_shared.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("room_members", sa.Column("role", sa.String(length=10), server_default="member", nullable=False))
    op.add_column("room_members", sa.Column("muted_until", chat_shared.db.UTCDateTime(), nullable=True))
    op.add_column("room_members", sa.Column("notify", sa.String(length=10), server_default="all", nullable=False))
    # Each group room's creator owns it; where the creator has left, its longest-standing member does.
    op.execute(
        "UPDATE room_members SET role = 'owner' WHERE EXISTS (SELECT 1 FROM rooms WHERE rooms.id = "
        "room_members.room_id AND rooms.type = 'group' AND rooms.created_by = room_members.user_id)"
    )
    # The derived table is materialised first, as MySQL requires of a subquery on the updated table.
    op.execute(
        "UPDATE room_members SET role = 'owner' WHERE (room_id, user_id) IN (SELECT room_id, user_id FROM ("
        " SELECT m.room_id, m.user_id FROM room_members m JOIN rooms r ON r.id = m.room_id"
        " WHERE r.type = 'group' AND NOT EXISTS (SELECT 1 FROM room_members o WHERE o.room_id = m.room_id"
        " AND o.role = 'owner') AND NOT EXISTS (SELECT 1 FROM room_members e WHERE e.room_id = m.room_id"
        " AND (e.joined_at < m.joined_at OR (e.joined_at = m.joined_at AND e.user_id < m.user_id)))"
        ") AS heirs)"
    )


def downgrade() -> None:
    op.drop_column("room_members", "notify")
    op.drop_column("room_members", "muted_until")
    op.drop_column("room_members", "role")
