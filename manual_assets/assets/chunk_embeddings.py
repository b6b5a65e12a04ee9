"""chunk_embeddings: one vector per chunk, through LiteLLM."""

import time

import dagster as dg

from manual_assets.automation import ON_NEW_UPSTREAM_DATA, ONE_MANUAL_PER_RUN
from manual_assets.freshness import MANUAL_STAGE
from manual_assets.partitions import manual_partitions
from manual_assets.resources import CatalogResource, LLMResource
from manualqa.answer.units import split_units
from manualqa.artifacts import ChunkEmbeddings, ManualChunks, fingerprint
from manualqa.chunking import embedding_text
from manualqa.usage import usage_scope
from sql import catalog, usage


@dg.asset(
    partitions_def=manual_partitions,
    group_name="indexing",
    kinds={"python"},
    freshness_policy=MANUAL_STAGE,
    automation_condition=ON_NEW_UPSTREAM_DATA,
    backfill_policy=ONE_MANUAL_PER_RUN,
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10),
    code_version="6",
)
def chunk_embeddings(
    context: dg.AssetExecutionContext,
    manual_chunks: ManualChunks,
    catalog_db: CatalogResource,
    llm: LLMResource,
) -> dg.Output[ChunkEmbeddings]:
    """One L2-normalised vector per chunk (through LiteLLM), handed to the index; and one
    per answer unit of each chunk (sentence, step, table row), kept in the catalog so
    that answering a question embeds only the question."""
    key = context.partition_key
    chunks = manual_chunks.chunks
    client = llm.client()
    client.embed(["warm-up"])  # load the model outside the timed span
    started = time.perf_counter()
    with usage_scope(partition=key):
        vectors = client.embed([embedding_text(c, manual_chunks.ref.title) for c in chunks])
    seconds = time.perf_counter() - started
    units = {c.chunk_id: [u.text for u in split_units(c.text)] for c in chunks}
    with usage_scope(partition=key):
        unit_vectors = iter(client.embed([text for texts in units.values() for text in texts]))
    with catalog_db.session() as session:
        catalog.replace_unit_vectors(
            session,
            key,
            llm.embedding_model,
            {
                chunk_id: [(text, next(unit_vectors)) for text in texts]
                for chunk_id, texts in units.items()
            },
        )
        catalog.set_manual_status(session, key, "embedded")
        usage.record_llm_calls(session, client.ledger.take(partition=key))
    value = ChunkEmbeddings(
        model=llm.embedding_model, chunk_ids=tuple(c.chunk_id for c in chunks), vectors=vectors
    )
    return dg.Output(
        value,
        data_version=dg.DataVersion(fingerprint(value)),
        metadata={
            "vectors": len(vectors),
            "answer_units": sum(len(texts) for texts in units.values()),
            "dimension": int(vectors.shape[1]) if vectors.ndim == 2 else 0,
            "model": llm.embedding_model,
            "seconds": round(seconds, 3),
            "chunks_per_second": round(len(chunks) / seconds, 1) if seconds > 0 else 0.0,
        },
    )
