"""chunk_embeddings and qdrant_collection: vectors for every chunk, then the served index."""

import time

import dagster as dg

from manual_assets.assets.current import current_version
from manual_assets.assets.processing import CHUNKS_FILE, manual_chunks
from manual_assets.freshness import MANUAL_STAGE
from manual_assets.partitions import manual_partitions
from manual_assets.resources import (
    CatalogResource,
    LLMResource,
    ObjectStoreResource,
    VectorIndexResource,
)
from manualqa.artifacts import dump_vectors, load_chunks, load_vectors
from manualqa.chunking import embedding_text
from manualqa.documents import slugify
from manualqa.index.base import IndexPoint, sparse_from_token_ids
from manualqa.tokens import default_token_counter
from manualqa.usage import usage_scope
from sql import catalog, usage


def embeddings_file(model: str) -> str:
    return f"embeddings-{slugify(model.replace('/', '-'))}.npy"


@dg.asset(
    partitions_def=manual_partitions,
    deps=[manual_chunks],
    group_name="indexing",
    kinds={"python", "pgvector"},
    freshness_policy=MANUAL_STAGE,
    check_specs=[dg.AssetCheckSpec("chunk_embeddings_vector_size", asset="chunk_embeddings")],
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10),
    code_version="1",
)
def chunk_embeddings(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    catalog_db: CatalogResource,
    llm: LLMResource,
    vector_index: VectorIndexResource,
) -> dg.MaterializeResult:
    """One L2-normalised vector per chunk (through LiteLLM), also written to pgvector."""
    key = context.partition_key
    store = object_store.store()
    version = current_version(key, catalog_db, store)
    chunks = load_chunks(store.get(version.processed(CHUNKS_FILE)))
    client = llm.client()
    client.embed(["warm-up"])  # load the model outside the timed span
    started = time.perf_counter()
    with usage_scope(partition=key):
        vectors = client.embed([embedding_text(c, version.ref.title) for c in chunks])
    seconds = time.perf_counter() - started
    store.put(version.processed(embeddings_file(llm.embedding_model)), dump_vectors(vectors))
    with catalog_db.session() as session:
        catalog.replace_embeddings(
            session,
            key,
            llm.embedding_model,
            {c.chunk_id: v.tolist() for c, v in zip(chunks, vectors, strict=True)},
        )
        catalog.set_manual_status(session, key, "embedded")
        usage.record_llm_calls(session, client.ledger.take(partition=key))
    size = int(vectors.shape[1]) if len(vectors) else vector_index.dimension
    return dg.MaterializeResult(
        metadata={
            "vectors": len(vectors),
            "dimension": size,
            "model": llm.embedding_model,
            "seconds": round(seconds, 3),
            "chunks_per_second": round(len(chunks) / seconds, 1) if seconds > 0 else 0.0,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="chunk_embeddings_vector_size",
                passed=size == vector_index.dimension,
                metadata={"vector_size": size, "collection_size": vector_index.dimension},
            )
        ],
    )


@dg.asset(
    partitions_def=manual_partitions,
    deps=[chunk_embeddings],
    group_name="indexing",
    kinds={"qdrant"},
    freshness_policy=MANUAL_STAGE,
    check_specs=[
        dg.AssetCheckSpec("qdrant_collection_point_count_matches", asset="qdrant_collection")
    ],
    pool="qdrant_local_writer",
    code_version="1",
)
def qdrant_collection(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    catalog_db: CatalogResource,
    llm: LLMResource,
    vector_index: VectorIndexResource,
) -> dg.MaterializeResult:
    """The manual's points in the served Qdrant collection, replacing its previous points,
    then published as a new snapshot the API switches to."""
    key = context.partition_key
    store = object_store.store()
    version = current_version(key, catalog_db, store)
    chunks = load_chunks(store.get(version.processed(CHUNKS_FILE)))
    vectors = load_vectors(store.get(version.processed(embeddings_file(llm.embedding_model))))
    if len(vectors) != len(chunks):
        raise dg.Failure(
            f"{key}: {len(chunks)} chunks but {len(vectors)} vectors; re-run chunk_embeddings"
        )
    counter = default_token_counter()
    points = [
        IndexPoint(
            chunk=c,
            ref=version.ref,
            dense=v,
            sparse=sparse_from_token_ids(counter.ids(embedding_text(c, version.ref.title))),
        )
        for c, v in zip(chunks, vectors, strict=True)
    ]
    result = vector_index.writer().replace_manual(key, points)
    with catalog_db.session() as session:
        catalog.set_manual_status(session, key, "indexed")
    return dg.MaterializeResult(
        metadata={
            "points": result.manual_points,
            "replaced_points": result.removed,
            "collection_points": result.total_points,
            "snapshot": result.version,
            "snapshot_bytes": result.snapshot_bytes,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="qdrant_collection_point_count_matches",
                passed=result.manual_points == len(chunks),
                metadata={"points": result.manual_points, "chunks": len(chunks)},
            )
        ],
    )
