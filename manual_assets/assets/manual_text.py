"""manual_text: page- and section-aware text, and the checks that it is worth indexing."""

import json

import dagster as dg

from manual_assets.automation import ON_NEW_UPSTREAM_DATA, ONE_MANUAL_PER_RUN
from manual_assets.freshness import MANUAL_STAGE
from manual_assets.partitions import manual_partitions
from manual_assets.resources import CatalogResource, ObjectStoreResource, QualityResource
from manualqa.answer.products import model_mentions
from manualqa.artifacts import ManualText, RawManual, fingerprint
from manualqa.extraction import ExtractionError, extract_manual
from manualqa.objectstore import extraction_failure_key
from manualqa.quality import page_text, text_language
from sql import catalog


@dg.asset(
    partitions_def=manual_partitions,
    group_name="processing",
    kinds={"python", "pdf"},
    freshness_policy=MANUAL_STAGE,
    automation_condition=ON_NEW_UPSTREAM_DATA,
    backfill_policy=ONE_MANUAL_PER_RUN,
    code_version="14",
)
def manual_text(
    context: dg.AssetExecutionContext,
    raw_manual: RawManual,
    object_store: ObjectStoreResource,
    catalog_db: CatalogResource,
) -> dg.Output[ManualText]:
    """Text page by page (PDF outline mapped to sections; HTML and Markdown by headings).

    A manual that cannot be read is quarantined with the reason and the run fails. Text a
    reader cannot see is left out and recorded in the catalog.
    """
    key = context.partition_key
    try:
        doc = extract_manual(raw_manual.data, raw_manual.ref)
    except ExtractionError as exc:
        reason = str(exc)
        object_store.store().put(
            extraction_failure_key(key, raw_manual.sha256),
            json.dumps({"manual_key": key, "sha256": raw_manual.sha256, "reason": reason}).encode(),
        )
        with catalog_db.session() as session:
            catalog.quarantine_manual(session, key, reason)
        raise dg.Failure(
            description=f"{key} quarantined: {reason}",
            metadata={"reason": reason, "sha256": raw_manual.sha256},
        ) from exc
    with catalog_db.session() as session:
        catalog.replace_sections(session, key, doc.sections)
        catalog.replace_hidden_text(session, key, doc.hidden)
        catalog.set_manual_status(
            session,
            key,
            "extracted",
            page_count=doc.page_count,
            model_mentions=model_mentions(" ".join(b.text for b in doc.blocks)),
        )
        if doc.published:
            catalog.set_published_if_unknown(session, key, doc.published)
    text = ManualText(ref=raw_manual.ref, doc=doc)
    return dg.Output(
        text,
        data_version=dg.DataVersion(fingerprint(text)),
        metadata={
            "pages": doc.page_count or 0,
            "sections": len(doc.sections),
            "blocks": len(doc.blocks),
            "characters": doc.char_count,
            # left out of the text: `manualqa sql flagged` lists them
            "hidden_text_runs": len(doc.hidden),
            "preview": dg.MetadataValue.text(doc.blocks[0].text[:300] if doc.blocks else ""),
        },
    )


@dg.asset_check(
    asset=manual_text,
    partitions_def=manual_partitions,
    description="Most PDF pages have a text layer (not scans or drawings).",
)
def manual_text_image_only_pages(
    manual_text: ManualText, quality: QualityResource
) -> dg.AssetCheckResult:
    pages = page_text(manual_text.doc, quality.image_only_page_chars)
    if pages is None:
        return dg.AssetCheckResult(passed=True, metadata={"pages": 0, "paged": False})
    return dg.AssetCheckResult(
        passed=pages.image_only_share <= quality.max_image_only_share,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(pages.image_only_pages)} of {len(pages.chars_per_page)} pages "
        f"have fewer than {quality.image_only_page_chars} characters",
        metadata={
            "image_only_share": round(pages.image_only_share, 3),
            "max_share": quality.max_image_only_share,
            "image_only_pages": str(list(pages.image_only_pages)[:50]),
        },
    )


@dg.asset_check(
    asset=manual_text,
    partitions_def=manual_partitions,
    description="A PDF page yields a page's worth of text, as a rule.",
)
def manual_text_chars_per_page(
    manual_text: ManualText, quality: QualityResource
) -> dg.AssetCheckResult:
    pages = page_text(manual_text.doc, quality.image_only_page_chars)
    if pages is None:
        return dg.AssetCheckResult(passed=True, metadata={"pages": 0, "paged": False})
    return dg.AssetCheckResult(
        passed=pages.median_chars >= quality.min_chars_per_page,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "median_chars_per_page": pages.median_chars,
            "min_median": quality.min_chars_per_page,
            "fewest_chars": min(pages.chars_per_page),
            "most_chars": max(pages.chars_per_page),
        },
    )


@dg.asset_check(
    asset=manual_text,
    partitions_def=manual_partitions,
    description="The text is in a language retrieval is built for.",
)
def manual_text_language(manual_text: ManualText, quality: QualityResource) -> dg.AssetCheckResult:
    language = text_language(manual_text.doc)
    return dg.AssetCheckResult(
        passed=language in quality.languages,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"language": language, "expected": ", ".join(quality.languages)},
    )


MANUAL_TEXT_CHECKS = [
    manual_text_image_only_pages,
    manual_text_chars_per_page,
    manual_text_language,
]
