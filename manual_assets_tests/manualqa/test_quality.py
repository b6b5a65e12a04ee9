"""The measurements behind the asset checks."""

from manualqa.documents import Chunk, ExtractedManual, TextBlock
from manualqa.quality import chunk_lengths, orphan_chunks, page_text, text_language


def _doc(blocks: list[TextBlock], pages: int | None) -> ExtractedManual:
    return ExtractedManual("m", "application/pdf", "M", pages, blocks)


def test_page_text_counts_characters_per_page_and_finds_pages_without_text():
    doc = _doc([TextBlock("x" * 300, 1, ("A",)), TextBlock("y" * 5, 3, ("A",))], pages=4)
    pages = page_text(doc, image_only_chars=20)
    assert pages is not None
    assert pages.chars_per_page == (300, 0, 5, 0)
    assert pages.image_only_pages == (2, 3, 4)
    assert pages.image_only_share == 0.75 and pages.median_chars == 2.5
    assert page_text(_doc([TextBlock("x", None, ("A",))], pages=None), 20) is None


def test_text_language_tells_english_from_german():
    english = "Press the power button to switch the purifier on. Replace the filter yearly."
    german = "Drücken Sie die Taste, um den Luftreiniger einzuschalten. Der Filter hält lange."
    assert text_language(_doc([TextBlock(english, 1, ())], 1)) == "en"
    assert text_language(_doc([TextBlock(german, 1, ())], 1)) == "de"


def test_chunk_lengths_and_orphans():
    chunks = [
        Chunk("m", i, "t", page=i or None, page_end=None, section_path=("S",) if i else (),
              token_count=tokens)
        for i, tokens in enumerate([5, 40, 80, 120, 200])
    ]  # fmt: skip
    lengths = chunk_lengths(chunks, short_tokens=32)
    assert (lengths.count, lengths.median, lengths.max, lengths.short) == (5, 80, 200, 1)
    assert lengths.short_share == 0.2
    assert [c.ordinal for c in orphan_chunks(chunks, paged=True)] == [0]
    assert chunk_lengths([], short_tokens=32).count == 0
