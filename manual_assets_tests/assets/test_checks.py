"""Each asset check fails on the defect it exists for: a scanned PDF, a PDF that yields
only scraps of text, a manual in another language, text cut into fragments, chunks a
citation cannot locate, and an index that disagrees with the catalog."""

from __future__ import annotations

import io
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from manual_assets.assets import MANUAL_ASSETS, MANUAL_CHECKS
from manual_assets.assets.manual_chunks import manual_chunks_citable
from manual_assets_tests.pipeline_fixtures import Pipeline, pipeline_settings
from manualqa.artifacts import ManualChunks
from manualqa.documents import Chunk, ManualRef
from manualqa.index.base import IndexPoint, sparse_from_token_ids
from sql import catalog, db

LINE = "Turn the dial clockwise to raise the water temperature by one degree. "
MANIFEST = "file,key,vendor,product,title,license,is_public\n"


def _pdf(pages: list[str]) -> bytes:
    """A PDF whose page i carries the text pages[i] (an empty string draws a box instead)."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    for text in pages:
        if text:
            y = 800
            for start in range(0, len(text), 90):
                pdf.drawString(40, y, text[start : start + 90])
                y -= 14
        else:
            pdf.rect(100, 300, 300, 300)  # a diagram, no text layer
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


MANUALS: dict[str, bytes] = {
    "scanned.pdf": _pdf([LINE * 20, "", "", "", ""]),
    "scraps.pdf": _pdf(  # a caption per page; the rest of each page is drawings
        [
            "Lift the front cover with both hands.",
            "Check the fuse before you open the case.",
            "Connect the water hose to the inlet valve.",
            "Tighten both mounting screws by hand only.",
            "Fill the tank slowly up to the upper mark.",
        ]
    ),
    "german.md": (
        "# Bedienungsanleitung\n\n## Inbetriebnahme\n\n"
        + "Drücken Sie die Taste, um das Gerät einzuschalten. Der Filter wird alle sechs "
        "Monate gewechselt, damit die Luft sauber bleibt und das Gerät leise läuft. " * 8
    ).encode(),
    "fragments.md": (
        "# Quick card\n\n"
        + "".join(f"## Step {n}\n\nHold the lid button until it glows.\n\n" for n in range(20))
    ).encode(),
    "sound.md": ("# Heater\n\n## Use\n\n" + LINE * 12 + "\n\n## Care\n\n" + LINE * 9).encode(),
}


@pytest.fixture
def odd_manuals(tmp_path: Path, own_database: str) -> Pipeline:
    folder = tmp_path / "manuals"
    folder.mkdir()
    rows = [MANIFEST]
    for name, data in MANUALS.items():
        (folder / name).write_bytes(data)
        rows.append(f"{name},,Test Vendor,{Path(name).stem},{Path(name).stem} manual,CC0,true\n")
    (folder / "MANIFEST.csv").write_text("".join(rows))
    settings = pipeline_settings(tmp_path / "state", folder, own_database)
    return Pipeline(settings, dg.DagsterInstance.ephemeral(), [Path(n).stem for n in MANUALS])


def _checks(pipeline: Pipeline, key: str, *stages: str) -> dict[str, bool]:
    """Materialize `stages` of one manual with their checks: check name -> passed."""
    pipeline.instance.add_dynamic_partitions("manuals", [key])
    result = dg.materialize(
        [*MANUAL_ASSETS, *MANUAL_CHECKS],
        selection=dg.AssetSelection.assets(*stages),
        partition_key=key,
        instance=pipeline.instance,
        resources=pipeline.resources(),
    )
    return {c.check_name: c.passed for c in result.get_asset_check_evaluations()}


TEXT = ("raw_manual", "manual_text")
CHUNKS = (*TEXT, "manual_chunks")


@pytest.mark.parametrize(
    ("key", "stages", "failing"),
    [
        ("sound", CHUNKS, set()),
        ("scanned", TEXT, {"manual_text_image_only_pages", "manual_text_chars_per_page"}),
        ("scraps", TEXT, {"manual_text_chars_per_page"}),
        ("german", TEXT, {"manual_text_language"}),
        ("fragments", CHUNKS, {"manual_chunks_token_lengths"}),
    ],
)
def test_text_and_chunk_checks_fail_on_their_defect_only(odd_manuals, key, stages, failing):
    results = _checks(odd_manuals, key, *stages)
    assert len(results) == (4 if stages == TEXT else 6)  # raw_manual_accepted too
    assert {name for name, passed in results.items() if not passed} == failing


def test_chunks_a_citation_cannot_locate_fail_the_citable_check():
    ref = ManualRef(
        key="m", uri="m.pdf", file_name="m.pdf", media_type="application/pdf", vendor="v",
        product="p", title="t", license="CC0", source="folder",
    )  # fmt: skip
    located = Chunk("m", 0, LINE, 3, 3, section_path=("2 Use",), token_count=14)
    pageless = Chunk("m", 1, LINE, None, None, section_path=("2 Use",), token_count=14)
    sectionless = Chunk("m", 2, LINE, 4, 4, section_path=(), token_count=14)

    assert manual_chunks_citable(ManualChunks(ref, [located])).passed
    failed = manual_chunks_citable(ManualChunks(ref, [located, pageless, sectionless]))
    assert not failed.passed
    assert failed.metadata["orphan_chunks"].value == 2


def test_index_and_catalog_checks_fail_when_they_disagree(odd_manuals):
    pipeline = odd_manuals
    every_stage = [a.key.to_user_string() for a in MANUAL_ASSETS]
    assert all(_checks(pipeline, "sound", *every_stage).values())

    # The catalog's chunks change behind the index's back.
    engine = db.make_engine(pipeline.settings.database_url.get_secret_value())
    with db.session_scope(engine) as session:
        chunk = Chunk("sound", 0, LINE, None, None, ("Care",), 14)
        catalog.replace_chunks(session, "sound", [chunk])
    engine.dispose()
    assert _checks(pipeline, "sound", "qdrant_collection") == {
        "qdrant_collection_points_match_chunks": False,
        "qdrant_collection_no_removed_manuals": True,
    }

    # Points of a manual the catalog does not have (one removed behind the index's back).
    ref = ManualRef(
        key="ghost", uri="ghost.md", file_name="ghost.md", media_type="text/markdown",
        vendor="v", product="p", title="Ghost", license="CC0", source="folder",
    )  # fmt: skip
    vector = np.full(pipeline.settings.embedding.dimension, 0.05, dtype=np.float32)
    ghost = IndexPoint(Chunk("ghost", 0, LINE, None, None, ("Use",), 14), ref, vector,
                       sparse_from_token_ids([101, 102]))  # fmt: skip
    pipeline.resources()["vector_index"].writer().replace_manual("ghost", [ghost])
    assert (
        _checks(pipeline, "sound", "qdrant_collection")["qdrant_collection_no_removed_manuals"]
        is False
    )
