"""One module per asset, named for the data it holds, with the checks on that data."""

from manual_assets.assets.chunk_embeddings import chunk_embeddings
from manual_assets.assets.eval_scores import eval_scores
from manual_assets.assets.manual_chunks import MANUAL_CHUNKS_CHECKS, manual_chunks
from manual_assets.assets.manual_text import MANUAL_TEXT_CHECKS, manual_text
from manual_assets.assets.qdrant_collection import QDRANT_COLLECTION_CHECKS, qdrant_collection
from manual_assets.assets.raw_manual import raw_manual

# The per-manual stages, in lineage order, and the checks on them.
MANUAL_ASSETS = [raw_manual, manual_text, manual_chunks, chunk_embeddings, qdrant_collection]
MANUAL_CHECKS = [*MANUAL_TEXT_CHECKS, *MANUAL_CHUNKS_CHECKS, *QDRANT_COLLECTION_CHECKS]

__all__ = ["MANUAL_ASSETS", "MANUAL_CHECKS", "eval_scores"]
