"""Manual editions and product names: what citations show and questions are matched by.

`edition` and `published_on` come from the source (a manifest's `edition`/`published`
columns) or the document's own metadata; `aliases` are other names of the product from
the source; `model_mentions` counts the model numbers the manual's text mentions most.
`answer_unit_vectors` keeps the embedding of every answer unit (sentence, step, table row)
of every chunk, computed at ingest, so answering a question embeds only the question.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 22:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("manuals", sa.Column("edition", sa.Text(), server_default="", nullable=False))
    op.add_column("manuals", sa.Column("published_on", sa.Date(), nullable=True))
    op.add_column(
        "manuals",
        sa.Column("aliases", ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    )
    op.add_column(
        "manuals",
        sa.Column("model_mentions", JSONB(), server_default=sa.text("'{}'"), nullable=False),
    )
    op.create_table(
        "answer_unit_vectors",
        sa.Column(
            "chunk_id",
            sa.String(32),
            sa.ForeignKey(
                "chunks.id", ondelete="CASCADE", name="fk_answer_unit_vectors_chunk_id_chunks"
            ),
            nullable=False,
        ),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),  # float32, little-endian
        sa.PrimaryKeyConstraint("chunk_id", "ordinal", name="pk_answer_unit_vectors"),
    )


def downgrade() -> None:
    op.drop_table("answer_unit_vectors")
    for column in ("model_mentions", "aliases", "published_on", "edition"):
        op.drop_column("manuals", column)
