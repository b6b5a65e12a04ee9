"""The catalog stops keeping a second search index of its chunks.

`embeddings` (a pgvector copy of each chunk's vector, HNSW-indexed) and `chunks.tsv` (a
generated `tsvector` with a GIN index) were written on every ingest and read only by two
search functions that nothing but their own tests called. Search belongs to the index
port: each backend keeps its points (the PostgreSQL backend in its own
`<collection>_points` table, published by version), and the catalog keeps the chunks'
text and citations. This revision drops both; the downgrade recreates them empty at the
configured width (`embedding.dimension`) and lets PostgreSQL recompute `tsv`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 01:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

from manualqa.config import get_settings

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_embeddings_model", table_name="embeddings")
    op.drop_index("ix_embeddings_embedding_hnsw", table_name="embeddings", postgresql_using="hnsw")
    op.drop_table("embeddings")
    op.drop_index("ix_chunks_tsv", table_name="chunks", postgresql_using="gin")
    op.drop_column("chunks", "tsv")


def downgrade() -> None:
    op.add_column(
        "chunks",
        sa.Column(
            "tsv",
            postgresql.TSVECTOR(),
            sa.Computed(
                "to_tsvector('english', coalesce(section, '') || ' ' || text)", persisted=True
            ),
            nullable=False,
        ),
    )
    op.create_index("ix_chunks_tsv", "chunks", ["tsv"], unique=False, postgresql_using="gin")
    op.create_table(
        "embeddings",
        sa.Column("chunk_id", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("embedding", Vector(get_settings().embedding.dimension), nullable=False),
        sa.ForeignKeyConstraint(
            ["chunk_id"],
            ["chunks.id"],
            name=op.f("fk_embeddings_chunk_id_chunks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chunk_id", name=op.f("pk_embeddings")),
    )
    op.create_index(
        "ix_embeddings_embedding_hnsw",
        "embeddings",
        ["embedding"],
        unique=False,
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.create_index("ix_embeddings_model", "embeddings", ["model"], unique=False)
