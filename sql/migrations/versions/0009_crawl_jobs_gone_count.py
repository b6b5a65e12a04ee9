"""crawl_jobs counts the manuals each run found gone from its source.

A run already noted each gone manual in the audit log (`ingest.gone`); its `crawl_jobs`
row now counts them beside the other outcomes. Rows written before this revision count 0.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 05:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "crawl_jobs", sa.Column("gone", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )


def downgrade() -> None:
    op.drop_column("crawl_jobs", "gone")
