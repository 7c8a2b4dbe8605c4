"""users.avatar_url: the replica keeps each user's avatar for the friends list

Revision ID: 3c1f0a9d7e42
Revises: 706acaa97ecc
Create Date: 2026-12-01 21:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c1f0a9d7e42"
down_revision: str | None = "706acaa97ecc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("avatar_url", sa.String(500), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "avatar_url")
