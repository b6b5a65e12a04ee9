"""A manual's index points: each chunk with its dense vector and its sparse term weights."""

from __future__ import annotations

from manualqa.artifacts import ChunkEmbeddings, ManualChunks
from manualqa.chunking import embedding_text
from manualqa.index.base import IndexPoint, sparse_from_token_ids
from manualqa.tokens import default_token_counter


def index_points(chunks: ManualChunks, embeddings: ChunkEmbeddings) -> list[IndexPoint]:
    """One point per chunk; its sparse vector counts the embedding tokenizer's tokens of
    the text the chunk was embedded from.

    Raises:
        ValueError: the embeddings are of other chunks.
    """
    if embeddings.chunk_ids != tuple(c.chunk_id for c in chunks.chunks):
        raise ValueError(
            f"{chunks.ref.key}: the embeddings are of other chunks; re-run chunk_embeddings"
        )
    counter, ref = default_token_counter(), chunks.ref
    return [
        IndexPoint(
            chunk=c,
            ref=ref,
            dense=v,
            sparse=sparse_from_token_ids(counter.ids(embedding_text(c, ref.title))),
        )
        for c, v in zip(chunks.chunks, embeddings.vectors, strict=True)
    ]
