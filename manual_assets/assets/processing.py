"""manual_text and manual_chunks: page- and section-aware text, then token-bounded chunks."""

import json
import statistics

import dagster as dg

from manual_assets.assets.current import current_version
from manual_assets.assets.ingestion import raw_manual
from manual_assets.freshness import MANUAL_STAGE
from manual_assets.partitions import manual_partitions
from manual_assets.resources import CatalogResource, ChunkerResource, ObjectStoreResource
from manualqa.artifacts import dump_chunks, dump_extracted, load_extracted
from manualqa.chunking import chunk_manual
from manualqa.extraction import ExtractionError, extract_manual
from manualqa.injection import scan_chunks
from manualqa.tokens import default_token_counter
from sql import catalog

TEXT_FILE = "text.json"
CHUNKS_FILE = "chunks.json"


@dg.asset(
    partitions_def=manual_partitions,
    deps=[raw_manual],
    group_name="processing",
    kinds={"python", "pdf"},
    freshness_policy=MANUAL_STAGE,
    check_specs=[dg.AssetCheckSpec("manual_text_not_empty", asset="manual_text")],
    code_version="1",
)
def manual_text(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    catalog_db: CatalogResource,
) -> dg.MaterializeResult:
    """Text page by page (PDF outline mapped to sections; HTML and Markdown by headings).

    A manual that cannot be read is quarantined with the reason and the run fails.
    """
    key = context.partition_key
    store = object_store.store()
    version = current_version(key, catalog_db, store)
    try:
        doc = extract_manual(store.get(version.raw_key), version.ref)
    except ExtractionError as exc:
        reason = str(exc)
        store.put(
            f"logs/quarantine/{key}/{version.sha256}.json",
            json.dumps({"manual_key": key, "raw_key": version.raw_key, "reason": reason}).encode(),
        )
        with catalog_db.session() as session:
            catalog.quarantine_manual(session, key, reason)
        raise dg.Failure(
            description=f"{key} quarantined: {reason}",
            metadata={"reason": reason, "raw_key": version.raw_key},
        ) from exc
    store.put(version.processed(TEXT_FILE), dump_extracted(doc))
    with catalog_db.session() as session:
        catalog.replace_sections(session, key, doc.sections)
        catalog.set_manual_status(session, key, "extracted", page_count=doc.page_count)
    chars = doc.char_count
    preview = doc.blocks[0].text[:300] if doc.blocks else ""
    return dg.MaterializeResult(
        metadata={
            "pages": doc.page_count or 0,
            "sections": len(doc.sections),
            "blocks": len(doc.blocks),
            "characters": chars,
            "preview": dg.MetadataValue.text(preview),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="manual_text_not_empty",
                passed=chars > 0,
                metadata={"characters": chars},
            )
        ],
    )


@dg.asset(
    partitions_def=manual_partitions,
    deps=[manual_text],
    group_name="processing",
    kinds={"python"},
    freshness_policy=MANUAL_STAGE,
    check_specs=[dg.AssetCheckSpec("manual_chunks_not_empty", asset="manual_chunks")],
    code_version="1",
)
def manual_chunks(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    catalog_db: CatalogResource,
    chunker: ChunkerResource,
) -> dg.MaterializeResult:
    """Chunks within sections, each with its heading path and page, bounded in model tokens."""
    key = context.partition_key
    store = object_store.store()
    version = current_version(key, catalog_db, store)
    doc = load_extracted(store.get(version.processed(TEXT_FILE)))
    chunks = chunk_manual(doc, default_token_counter(), chunker.settings())
    store.put(version.processed(CHUNKS_FILE), dump_chunks(chunks))
    with catalog_db.session() as session:
        catalog.replace_chunks(session, key, chunks)
        flagged = catalog.replace_chunk_flags(session, key, scan_chunks(chunks))
        catalog.set_manual_status(session, key, "chunked")
    tokens = [c.token_count for c in chunks]
    return dg.MaterializeResult(
        metadata={
            "chunks": len(chunks),
            "tokens_total": sum(tokens),
            "tokens_median": statistics.median(tokens) if tokens else 0,
            "tokens_max": max(tokens, default=0),
            "sections_covered": len({c.section_path for c in chunks}),
            "flagged_chunks": flagged,  # kept out of prompts: `manualqa sql flagged` lists them
            "preview": dg.MetadataValue.md(_preview(chunks[:3])),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="manual_chunks_not_empty",
                passed=bool(chunks),
                metadata={"chunks": len(chunks)},
            )
        ],
    )


def _preview(chunks: list) -> str:
    rows = ["| # | page | section | text |", "|---|---|---|---|"]
    for c in chunks:
        text = c.text[:120].replace("|", "\\|").replace("\n", " ")
        rows.append(f"| {c.ordinal} | {c.page or ''} | {c.section} | {text} |")
    return "\n".join(rows)
