"""Token-aware chunking, measured with the embedding model's real tokenizer."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from manual_assets_tests.manualqa.conftest import make_ref
from manualqa.chunking import chunk_manual, embedding_text, token_budget
from manualqa.config import ChunkingSettings
from manualqa.documents import Chunk, ExtractedManual, TextBlock
from manualqa.extraction import extract_manual
from manualqa.tokens import TokenCounter

log = logging.getLogger(__name__)

SMALL = ChunkingSettings(max_tokens=64, overlap_tokens=16, min_tokens=8)
DEFAULT = ChunkingSettings(max_tokens=200, overlap_tokens=32, min_tokens=8)

SETUP = ("1 Setup",)
WIRING = ("1 Setup", "1.1 Wiring")
TABLE = ("2 Ratings",)
LONG = ("3 Glossary",)

STEPS = [
    f"{i}. Connect wire number {i} to terminal T{i} and tighten its screw firmly by hand."
    for i in range(1, 13)
]
ROWS = [f"| AC-2{i:02d} | {i + 5} A | 230 V | indoor unit, wall mounted |" for i in range(30)]
LONG_WORDS = [f"glossaryterm{i}" for i in range(200)]


def _prose(page: int, n: int) -> str:
    return "\n\n".join(
        f"Setup sentence {page}.{i} explains part {i} of the installation on page {page}. "
        f"It adds a second remark about clearances and airflow for part {i}."
        for i in range(n)
    )


def _document() -> ExtractedManual:
    blocks = [
        TextBlock("1 Setup\n" + _prose(1, 3), 1, SETUP),
        TextBlock(_prose(2, 4), 2, SETUP),
        TextBlock(_prose(3, 1), 3, SETUP),
        TextBlock("1.1 Wiring\n" + "\n".join(STEPS), 3, WIRING),
        TextBlock("2 Ratings\n" + "\n".join(ROWS), 4, TABLE),
        TextBlock("3 Glossary\n" + " ".join(LONG_WORDS), 5, LONG),
    ]
    return ExtractedManual(
        key="acme__ac-200__manual",
        media_type="application/pdf",
        title="Acme AC-200 Owner's Manual",
        page_count=5,
        blocks=blocks,
    )


def _overlap_chars(previous: str, following: str) -> int:
    """Length of the longest end of `previous` that `following` starts with."""
    for size in range(min(len(previous), len(following)), 0, -1):
        if following[:size] == previous[-size:]:
            return size
    return 0


def _pairs_in_sections(chunks: Sequence[Chunk]) -> list[tuple[Chunk, Chunk]]:
    return [(a, b) for a, b in itertools.pairwise(chunks) if a.section_path == b.section_path]


@pytest.fixture(scope="module")
def small_chunks(token_counter: TokenCounter) -> list[Chunk]:
    return chunk_manual(_document(), token_counter, SMALL)


def test_chunks_stay_within_the_token_limit_and_the_model_window(
    small_chunks: list[Chunk], token_counter: TokenCounter
) -> None:
    doc = _document()
    assert len(small_chunks) > 12
    for chunk in small_chunks:
        assert chunk.token_count == token_counter.count(chunk.text)
        assert 0 < chunk.token_count <= SMALL.max_tokens
        window_tokens = token_counter.count(embedding_text(chunk, doc.title))
        assert window_tokens + token_counter.special_tokens <= token_counter.model_max_length


def test_chunks_carry_sections_pages_and_ordinals_in_reading_order(
    small_chunks: list[Chunk],
) -> None:
    assert [c.ordinal for c in small_chunks] == list(range(len(small_chunks)))
    assert {c.section_path for c in small_chunks} == {SETUP, WIRING, TABLE, LONG}
    assert all(c.manual_key == "acme__ac-200__manual" for c in small_chunks)
    pages = [c.page or 0 for c in small_chunks]
    assert pages == sorted(pages)
    for chunk in small_chunks:
        assert chunk.page is not None and chunk.page_end is not None
        assert chunk.page <= chunk.page_end <= chunk.page + 1


def test_chunks_never_cross_a_section_boundary(small_chunks: list[Chunk]) -> None:
    markers = {
        SETUP: "Setup sentence",
        WIRING: "Connect wire",
        TABLE: "| AC-2",
        LONG: "glossaryterm",
    }
    for chunk in small_chunks:
        for path, marker in markers.items():
            assert (marker in chunk.text) == (path == chunk.section_path), chunk


def test_consecutive_chunks_of_a_section_overlap(
    small_chunks: list[Chunk], token_counter: TokenCounter
) -> None:
    pairs = _pairs_in_sections(small_chunks)
    assert pairs
    for previous, following in pairs:
        size = _overlap_chars(previous.text, following.text)
        # No overlap only where it would stretch a chunk over three pages.
        if size == 0:
            assert following.page is not None and previous.page is not None
            assert following.page_end is not None and following.page_end > previous.page + 1
            continue
        assert token_counter.count(following.text[:size]) <= SMALL.overlap_tokens
    single_page = [(a, b) for a, b in pairs if a.section_path in (WIRING, TABLE, LONG)]
    assert single_page and all(_overlap_chars(a.text, b.text) > 0 for a, b in single_page)


def test_steps_and_table_rows_are_not_cut(small_chunks: list[Chunk]) -> None:
    wiring = [c.text for c in small_chunks if c.section_path == WIRING]
    table = [c.text for c in small_chunks if c.section_path == TABLE]
    assert len(wiring) > 1 and len(table) > 1
    for step in STEPS:
        assert any(step in text for text in wiring), step
    for row in ROWS:
        assert any(row in text for text in table), row


def test_a_table_cut_between_chunks_repeats_its_header(token_counter: TokenCounter) -> None:
    header = "| Model | Current | Voltage | Mounting |\n|---|---|---|---|"
    blocks = [TextBlock(f"2 Ratings\n{header}\n" + "\n".join(ROWS), 4, TABLE)]
    doc = ExtractedManual("k", "application/pdf", "Guide", 5, blocks)
    chunks = chunk_manual(doc, token_counter, SMALL)

    assert len(chunks) > 2
    for chunk in chunks:
        assert chunk.text.split("\n")[1 if chunk.ordinal == 0 else 0 :][:2] == header.split("\n")
        assert chunk.token_count <= token_budget(token_counter, SMALL, "Guide", TABLE)
        assert (chunk.page, chunk.page_end) == (4, 4)
    for row in ROWS:
        assert any(row in c.text for c in chunks), row
    # A table without a header row repeats nothing.
    plain = chunk_manual(_document(), token_counter, SMALL)
    assert not any(c.text.startswith("| Model") for c in plain)


def test_an_over_long_sentence_is_cut_at_word_boundaries(small_chunks: list[Chunk]) -> None:
    glossary = [c for c in small_chunks if c.section_path == LONG]
    assert len(glossary) > 4
    vocabulary = set(LONG_WORDS) | {"3", "Glossary"}
    for chunk in glossary:
        assert set(chunk.text.split()) <= vocabulary
    assert glossary[-1].text.endswith(LONG_WORDS[-1])


def test_chunking_is_deterministic(small_chunks: list[Chunk], token_counter: TokenCounter) -> None:
    again = chunk_manual(_document(), token_counter, SMALL)
    assert again == small_chunks
    ids = [c.chunk_id for c in again]
    assert ids == [c.chunk_id for c in small_chunks]
    assert len(set(ids)) == len(ids)


def test_heading_only_chunks_are_dropped_but_no_text_is_lost(token_counter: TokenCounter) -> None:
    doc = ExtractedManual(
        key="k",
        media_type="text/markdown",
        title="Guide",
        page_count=None,
        blocks=[
            TextBlock("Maintenance", None, ("Maintenance",)),
            TextBlock(
                "Filters\n\nRinse the filters under lukewarm water every two weeks.",
                None,
                ("Maintenance", "Filters"),
            ),
            TextBlock("Tank\n\nSee below.", None, ("Maintenance", "Tank")),
            TextBlock("Figure 3\nA B C\n1 2", None, ("Maintenance", "Figure 3")),
        ],
    )
    chunks = chunk_manual(doc, token_counter, DEFAULT)

    assert [c.section_path for c in chunks] == [
        ("Maintenance", "Filters"),
        ("Maintenance", "Tank"),
    ]
    assert chunks[0].text.startswith("Filters\n\nRinse the filters")
    assert chunks[1].text == "Tank\n\nSee below."  # short, but it says something
    assert chunks[1].token_count < DEFAULT.min_tokens
    assert [c.ordinal for c in chunks] == [0, 1]
    assert all(c.page is None and c.page_end is None for c in chunks)


def test_a_long_heading_path_lowers_the_budget(token_counter: TokenCounter) -> None:
    path = tuple(
        f"Chapter {i}: detailed configuration of the advanced wireless networking options "
        f"for installers and service technicians working on site number {i}"
        for i in range(3)
    )
    text = "\n\n".join(f"Paragraph {i} describes one more configuration option." for i in range(60))
    doc = ExtractedManual(
        "k", "text/html", "Acme router manual", None, [TextBlock(text, None, path)]
    )
    budget = token_budget(token_counter, DEFAULT, doc.title, path)
    chunks = chunk_manual(doc, token_counter, DEFAULT)

    assert budget < DEFAULT.max_tokens
    assert all(c.token_count <= budget for c in chunks)
    for chunk in chunks:
        total = token_counter.count(embedding_text(chunk, doc.title))
        assert total + token_counter.special_tokens <= token_counter.model_max_length


def test_a_chunk_spans_at_most_two_pages(token_counter: TokenCounter) -> None:
    blocks = [
        TextBlock(f"Page {p} holds one short paragraph about the remote control.", p, ("Remote",))
        for p in range(1, 6)
    ]
    doc = ExtractedManual("k", "application/pdf", "Guide", 5, blocks)
    chunks = chunk_manual(doc, token_counter, DEFAULT)

    assert [(c.page, c.page_end) for c in chunks] == [(1, 2), (2, 3), (3, 4), (4, 5)]
    for page in range(1, 6):
        assert any(f"Page {page} holds" in c.text for c in chunks)


def test_token_counter_counts_long_texts_without_truncation(token_counter: TokenCounter) -> None:
    assert token_counter.model_max_length == 256
    assert token_counter.count("hello") == 1  # no [CLS]/[SEP]
    assert token_counter.count("word " * 400) == 400  # tokenizer.json truncates at 128
    pieces = token_counter.split("word " * 400, 64)
    assert [token_counter.count(p) for p in pieces] == [64] * 6 + [16]
    tail = token_counter.tail("First sentence here. " + "more words " * 20, 10)
    assert token_counter.count(tail) <= 10 and tail.endswith("more words")


# --- the shared corpus ------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_docs(corpus_dir: Path) -> dict[str, tuple[ExtractedManual, float]]:
    """Every corpus manual extracted once, with its extraction time in seconds."""
    docs: dict[str, tuple[ExtractedManual, float]] = {}
    for path in sorted(corpus_dir.iterdir()):
        if path.suffix not in (".pdf", ".md") or path.name == "README.md":
            continue
        data = path.read_bytes()
        started = time.perf_counter()
        doc = extract_manual(data, make_ref(path.name, title=path.stem))
        docs[path.name] = (doc, time.perf_counter() - started)
    return docs


def test_all_corpus_manuals_extract_and_chunk(
    corpus_docs: dict[str, tuple[ExtractedManual, float]], token_counter: TokenCounter
) -> None:
    assert len(corpus_docs) == 12
    pdf_pages = sum(doc.page_count or 0 for doc, _ in corpus_docs.values())
    pdf_seconds = sum(s for doc, s in corpus_docs.values() if doc.media_type == "application/pdf")
    assert pdf_pages == 201
    log.info(
        "PDF extraction: %d pages in %.1f s (%.1f pages/s)",
        pdf_pages,
        pdf_seconds,
        pdf_pages / pdf_seconds,
    )
    for name, (doc, _) in corpus_docs.items():
        started = time.perf_counter()
        chunks = chunk_manual(doc, token_counter, DEFAULT)
        elapsed = time.perf_counter() - started
        log.info("%s: %d chunks in %.2f s", name, len(chunks), elapsed)
        assert chunks, name
        assert [c.ordinal for c in chunks] == list(range(len(chunks)))
        for chunk in chunks:
            assert chunk.section_path, (name, chunk.ordinal)
            assert chunk.token_count == token_counter.count(chunk.text) <= DEFAULT.max_tokens
            prefixed = token_counter.count(embedding_text(chunk, doc.title))
            assert prefixed + token_counter.special_tokens <= token_counter.model_max_length
        if doc.media_type == "application/pdf":
            assert doc.page_count is not None
            assert all(c.page is not None for c in chunks)
            pages = [c.page or 0 for c in chunks]
            assert pages == sorted(pages), name
            for chunk in chunks:
                assert chunk.page is not None and chunk.page_end is not None
                assert 1 <= chunk.page <= chunk.page_end <= min(chunk.page + 1, doc.page_count)
        pairs = _pairs_in_sections(chunks)
        overlapping = [p for p in pairs if _overlap_chars(p[0].text, p[1].text) > 0]
        assert len(overlapping) >= 0.9 * len(pairs), name
        again = chunk_manual(doc, token_counter, DEFAULT)
        assert [c.chunk_id for c in again] == [c.chunk_id for c in chunks], name
