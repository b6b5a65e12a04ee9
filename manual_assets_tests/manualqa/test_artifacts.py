"""Stage values survive their stored form, and their fingerprint follows their content."""

import json

import numpy as np
import pytest

from manualqa.artifacts import (
    ChunkEmbeddings,
    ManualChunks,
    ManualText,
    RawManual,
    dump_chunk_embeddings,
    dump_manual_chunks,
    dump_manual_text,
    fingerprint,
    load_chunk_embeddings,
    load_manual_chunks,
    load_manual_text,
    load_raw,
    raw_metadata,
)
from manualqa.documents import Chunk, ExtractedManual, ManualRef, SectionInfo, TextBlock

REF = ManualRef(
    key="acme__kettle", uri="/m/kettle.md", file_name="kettle.md", media_type="text/markdown",
    vendor="Acme", product="Kettle", title="Kettle guide", license="CC0", source="folder",
    version_token="1:2",
)  # fmt: skip
DOC = ExtractedManual(
    key="acme__kettle",
    media_type="text/markdown",
    title="Kettle guide",
    page_count=None,
    blocks=[TextBlock("Descale monthly.", None, ("Kettle guide", "Care"))],
    sections=[SectionInfo(0, "Care", 2, ("Kettle guide", "Care"), None)],
)
CHUNK = Chunk("acme__kettle", 0, "Descale monthly.", None, None, ("Kettle guide", "Care"), 4)


def test_stage_values_round_trip_through_their_stored_form():
    raw = RawManual(REF, "ab" * 32, b"# Kettle guide", "2026-11-29T00:00:00+00:00")
    assert load_raw(raw.data, json.loads(json.dumps(raw_metadata(raw)))) == raw
    text = ManualText(REF, DOC)
    assert load_manual_text(dump_manual_text(text)) == text
    chunks = ManualChunks(REF, [CHUNK])
    assert load_manual_chunks(dump_manual_chunks(chunks)) == chunks
    vectors = np.arange(6, dtype=np.float32).reshape(2, 3)
    embeddings = ChunkEmbeddings("m/minilm", ("a" * 32, "b" * 32), vectors)
    loaded = load_chunk_embeddings(dump_chunk_embeddings(embeddings))
    assert (loaded.model, loaded.chunk_ids) == (embeddings.model, embeddings.chunk_ids)
    assert np.array_equal(loaded.vectors, vectors)


def test_fingerprint_changes_with_content_only():
    chunks = ManualChunks(REF, [CHUNK])
    assert fingerprint(chunks) == fingerprint(ManualChunks(REF, [CHUNK]))
    longer = Chunk("acme__kettle", 0, "Descale monthly with vinegar.", None, None, ("Care",), 6)
    assert fingerprint(ManualChunks(REF, [longer])) != fingerprint(chunks)
    vectors = np.ones((1, 3), dtype=np.float32)
    embeddings = ChunkEmbeddings("m", ("a" * 32,), vectors)
    assert fingerprint(embeddings) == fingerprint(ChunkEmbeddings("m", ("a" * 32,), vectors.copy()))
    assert fingerprint(embeddings) != fingerprint(ChunkEmbeddings("m", ("a" * 32,), vectors * 2))


def test_embeddings_must_match_their_chunk_ids_and_old_formats_are_refused():
    with pytest.raises(ValueError, match="2 chunk ids but 1 vectors"):
        ChunkEmbeddings("m", ("a", "b"), np.ones((1, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="format 1"):
        load_manual_chunks(b'{"format": 1, "chunks": []}')
