"""attachments: files of a room in the object store

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 20:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chat_shared.db import BigId, UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("room_id", BigId, nullable=False),
        sa.Column("uploader_id", BigId, nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", BigId, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.String(32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("released_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_attachments_sweep", "attachments", ["state", "created_at"])
    op.create_index("ix_attachments_released", "attachments", ["state", "released_at"])


def downgrade() -> None:
    op.drop_table("attachments")
