"""manual_chunks: token-bounded passages within sections, and the checks on their shape."""

import statistics

import dagster as dg

from manual_assets.automation import ON_NEW_UPSTREAM_DATA, ONE_MANUAL_PER_RUN
from manual_assets.freshness import MANUAL_STAGE
from manual_assets.partitions import manual_partitions
from manual_assets.resources import CatalogResource, ChunkerResource, QualityResource
from manualqa.artifacts import ManualChunks, ManualText, fingerprint
from manualqa.chunking import chunk_manual
from manualqa.documents import Chunk
from manualqa.extraction import canonical_media_type
from manualqa.injection import scan_chunks
from manualqa.quality import chunk_lengths, orphan_chunks
from manualqa.tokens import default_token_counter
from sql import catalog


@dg.asset(
    partitions_def=manual_partitions,
    group_name="processing",
    kinds={"python"},
    freshness_policy=MANUAL_STAGE,
    automation_condition=ON_NEW_UPSTREAM_DATA,
    backfill_policy=ONE_MANUAL_PER_RUN,
    code_version="3",
)
def manual_chunks(
    context: dg.AssetExecutionContext,
    manual_text: ManualText,
    catalog_db: CatalogResource,
    chunker: ChunkerResource,
) -> dg.Output[ManualChunks]:
    """Chunks within sections, each with its heading path and page, bounded in model tokens."""
    key = context.partition_key
    chunks = chunk_manual(manual_text.doc, default_token_counter(), chunker.settings())
    with catalog_db.session() as session:
        catalog.replace_chunks(session, key, chunks)
        flagged = catalog.replace_chunk_flags(session, key, scan_chunks(chunks))
        catalog.set_manual_status(session, key, "chunked")
    value = ManualChunks(ref=manual_text.ref, chunks=chunks)
    tokens = [c.token_count for c in chunks]
    return dg.Output(
        value,
        data_version=dg.DataVersion(fingerprint(value)),
        metadata={
            "chunks": len(chunks),
            "tokens_total": sum(tokens),
            "tokens_median": statistics.median(tokens) if tokens else 0,
            "tokens_max": max(tokens, default=0),
            "sections_covered": len({c.section_path for c in chunks}),
            "flagged_chunks": flagged,  # kept out of prompts: `manualqa sql flagged` lists them
            "preview": dg.MetadataValue.md(_preview(chunks[:3])),
        },
    )


@dg.asset_check(
    asset=manual_chunks,
    partitions_def=manual_partitions,
    description="There are chunks, and few are too short to carry an answer.",
)
def manual_chunks_token_lengths(
    manual_chunks: ManualChunks, quality: QualityResource
) -> dg.AssetCheckResult:
    lengths = chunk_lengths(manual_chunks.chunks, quality.short_chunk_tokens)
    return dg.AssetCheckResult(
        passed=lengths.count > 0 and lengths.short_share <= quality.max_short_chunk_share,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "chunks": lengths.count,
            "tokens_p10": lengths.p10,
            "tokens_median": lengths.median,
            "tokens_p90": lengths.p90,
            "tokens_max": lengths.max,
            "short_share": round(lengths.short_share, 3),
            "short_below_tokens": quality.short_chunk_tokens,
            "max_short_share": quality.max_short_chunk_share,
        },
    )


@dg.asset_check(
    asset=manual_chunks,
    partitions_def=manual_partitions,
    description="Every chunk names its section, and its page in a PDF, for the citation.",
)
def manual_chunks_citable(manual_chunks: ManualChunks) -> dg.AssetCheckResult:
    paged = canonical_media_type(manual_chunks.ref.media_type) == "application/pdf"
    orphans = orphan_chunks(manual_chunks.chunks, paged=paged)
    return dg.AssetCheckResult(
        passed=not orphans,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "orphan_chunks": len(orphans),
            "orphan_ordinals": str([c.ordinal for c in orphans[:50]]),
        },
    )


MANUAL_CHUNKS_CHECKS = [manual_chunks_token_lengths, manual_chunks_citable]


def _preview(chunks: list[Chunk]) -> str:
    rows = ["| # | page | section | text |", "|---|---|---|---|"]
    for c in chunks:
        text = c.text[:120].replace("|", "\\|").replace("\n", " ")
        rows.append(f"| {c.ordinal} | {c.page or ''} | {c.section} | {text} |")
    return "\n".join(rows)
