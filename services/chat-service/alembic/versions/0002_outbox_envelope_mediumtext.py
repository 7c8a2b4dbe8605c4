"""outbox envelope as MEDIUMTEXT: a message event can outgrow TEXT's 64 KiB

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00.000000
"""
from collections.abc import Sequence

from chat_shared.migrations import narrow_outbox_envelope_v2, widen_outbox_envelope_v2

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    widen_outbox_envelope_v2()


def downgrade() -> None:
    narrow_outbox_envelope_v2()
