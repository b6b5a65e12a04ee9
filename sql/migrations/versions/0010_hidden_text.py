"""Text of PDF manuals that a reader cannot see, left out of the extracted text at ingest.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 05:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hidden_text",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("manual_id", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("excerpt", sa.Text(), nullable=False),
        sa.Column("chars", sa.Integer(), nullable=False),
        sa.Column(
            "found_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["manual_id"],
            ["manuals.id"],
            name=op.f("fk_hidden_text_manual_id_manuals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hidden_text")),
    )
    op.create_index(op.f("ix_hidden_text_manual_id"), "hidden_text", ["manual_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_hidden_text_manual_id"), table_name="hidden_text")
    op.drop_table("hidden_text")
