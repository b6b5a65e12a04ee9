import multiprocessing

import numpy as np
import pytest

from manualqa.documents import Chunk, ManualRef
from manualqa.index.base import IndexPoint, SearchFilters, sparse_from_token_ids
from manualqa.index.qdrant_local import (
    IndexNotPublished,
    QdrantSnapshotReader,
    QdrantSnapshotWriter,
)

DIM = 8


def _ref(key, vendor="Acme Appliances", product="AC-200", public=True):
    return ManualRef(
        key,
        f"/m/{key}.pdf",
        f"{key}.pdf",
        "application/pdf",
        vendor,
        product,
        f"{product} manual",
        "CC-BY-4.0",
        "folder",
        is_public=public,
    )


def _points(ref, n, offset=0):
    points = []
    for i in range(n):
        vec = np.zeros(DIM, dtype=np.float32)
        vec[(i + offset) % DIM] = 1.0
        chunk = Chunk(ref.key, i, f"{ref.product} text {i + offset}", i + 1, i + 1, ("1 Intro",), 4)
        points.append(IndexPoint(chunk, ref, vec, sparse_from_token_ids([100 + i + offset])))
    return points


def _unit(i):
    vec = np.zeros(DIM, dtype=np.float32)
    vec[i] = 1.0
    return vec


def test_replacing_a_manual_replaces_only_its_points(tmp_path):
    writer = QdrantSnapshotWriter(tmp_path, "c", DIM)
    writer.replace_manual("a", _points(_ref("a"), 5))
    writer.replace_manual("b", _points(_ref("b", product="AC-300"), 3))
    result = writer.replace_manual("a", _points(_ref("a"), 2, offset=4))

    assert (result.manual_points, result.removed, result.total_points) == (2, 5, 5)
    reader = QdrantSnapshotReader(tmp_path, "c")
    assert reader.refresh()
    assert reader.count("a") == 2
    assert reader.count("b") == 3


def test_point_ids_are_deterministic(tmp_path):
    first = [p.point_id for p in _points(_ref("a"), 3)]
    assert first == [p.point_id for p in _points(_ref("a"), 3)]
    assert len(set(first)) == 3
    assert set(first).isdisjoint(p.point_id for p in _points(_ref("b"), 3))


def test_search_filters_by_vendor_product_and_visibility(tmp_path):
    writer = QdrantSnapshotWriter(tmp_path, "c", DIM)
    writer.replace_manual("a", _points(_ref("a"), 4))
    writer.replace_manual("b", _points(_ref("b", product="AC-300"), 4))
    writer.replace_manual("s", _points(_ref("s", product="AC-300", public=False), 4))
    reader = QdrantSnapshotReader(tmp_path, "c")

    hits = reader.search(_unit(1), None, 8, SearchFilters(product="ac 300"))
    assert {h.manual_key for h in hits} == {"b"}
    assert reader.search(_unit(1), None, 8, SearchFilters(product="AC-30")) == []
    acme = reader.search(_unit(1), None, 8, SearchFilters(vendor="ACME"))
    assert {h.manual_key for h in acme} == {"a", "b"}
    assert hits[0].score == pytest.approx(1.0)
    assert hits[0].page == 2
    assert reader.search(_unit(1), None, 8, SearchFilters(vendor="Other Co")) == []
    everything = reader.search(_unit(1), None, 20, SearchFilters(public_only=False))
    assert {h.manual_key for h in everything} == {"a", "b", "s"}
    chosen = reader.search(_unit(1), None, 20, SearchFilters(manual_keys=("a", "s")))
    assert {h.manual_key for h in chosen} == {"a"}  # "s" is not public
    assert reader.search(_unit(1), None, 20, SearchFilters(manual_keys=())) == []


def test_hybrid_search_fuses_sparse_matches_and_reports_cosine(tmp_path):
    writer = QdrantSnapshotWriter(tmp_path, "c", DIM)
    writer.replace_manual("a", _points(_ref("a"), 6))
    reader = QdrantSnapshotReader(tmp_path, "c")
    # Dense points at ordinal 1; the sparse term (token 103) points at ordinal 3.
    hits = reader.search(_unit(1), sparse_from_token_ids([103]), 2, SearchFilters())
    assert {h.text for h in hits} == {"AC-200 text 1", "AC-200 text 3"}
    scores = {h.text: h.score for h in hits}
    assert scores["AC-200 text 1"] == pytest.approx(1.0)
    assert scores["AC-200 text 3"] == pytest.approx(0.0)


def test_reader_without_a_snapshot_says_what_to_do(tmp_path):
    with pytest.raises(IndexNotPublished, match="materialize"):
        QdrantSnapshotReader(tmp_path, "c").count()


def test_reader_keeps_serving_while_the_writer_publishes(tmp_path):
    writer = QdrantSnapshotWriter(tmp_path, "c", DIM)
    writer.replace_manual("a", _points(_ref("a"), 3))
    reader = QdrantSnapshotReader(tmp_path, "c")
    first = reader.version
    assert reader.count() == 3
    for n in range(4, 8):  # the writer opens work/ while the reader holds its snapshot
        writer.replace_manual("a", _points(_ref("a"), n))
        assert reader.count() in (n - 1, 3)
        assert reader.refresh()
        assert reader.count() == n
    assert reader.version != first
    # Old snapshots are pruned; the reader's own copies of retired versions are dropped.
    assert len(list((tmp_path / "snapshots").iterdir())) == 3
    assert len(list((tmp_path / "readers").iterdir())) <= 2
    reader.close()


def _write_in_child(root, key, n):
    QdrantSnapshotWriter(root, "c", DIM).replace_manual(key, _points(_ref(key), n))


def test_writers_in_separate_processes_are_serialised(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_in_child, args=(tmp_path, k, 4)) for k in "abcd"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    reader = QdrantSnapshotReader(tmp_path, "c")
    assert reader.count() == 16


def test_vector_size_mismatch_is_refused(tmp_path):
    QdrantSnapshotWriter(tmp_path, "c", DIM).replace_manual("a", _points(_ref("a"), 1))
    with pytest.raises(ValueError, match="8-d vectors"):
        QdrantSnapshotWriter(tmp_path, "c", 16).replace_manual("a", [])
