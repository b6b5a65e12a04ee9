"""The catalog's embedding column takes the configured model's dimension.

`embeddings.embedding` was created as `vector(384)` (the bundled MiniLM); a hosted
1536-d model could not be stored. This revision makes the column as wide as
`embedding.dimension`, rebuilding its HNSW index. A column that already holds vectors
of another width is not changed: re-embedding is a data change, so the revision stops
with a message instead.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 22:40:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from manualqa.config import get_settings

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORIGINAL_DIMENSION = 384
HNSW = "ix_embeddings_embedding_hnsw"


def _resize(dimension: int) -> None:
    bind = op.get_bind()
    current: int = bind.execute(
        sa.text(
            "SELECT atttypmod FROM pg_attribute "
            "WHERE attrelid = 'embeddings'::regclass AND attname = 'embedding'"
        )
    ).scalar_one()
    if current == dimension:
        return
    if bind.execute(sa.text("SELECT EXISTS (SELECT 1 FROM embeddings)")).scalar_one():
        raise RuntimeError(
            f"the catalog holds {current}-d embeddings and the embedding model makes "
            f"{dimension}-d: delete them (or use a new database) and re-embed"
        )
    op.drop_index(HNSW, table_name="embeddings", postgresql_using="hnsw")
    op.execute(f"ALTER TABLE embeddings ALTER COLUMN embedding TYPE vector({dimension})")
    op.create_index(
        HNSW,
        "embeddings",
        ["embedding"],
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )


def upgrade() -> None:
    _resize(get_settings().embedding.dimension)


def downgrade() -> None:
    _resize(ORIGINAL_DIMENSION)
