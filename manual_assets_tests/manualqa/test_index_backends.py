"""Every index backend behind the one port: the same cases on each, then congruence."""

import json
import multiprocessing
import subprocess
import sys
import threading
import uuid

import numpy as np
import pytest
from qdrant_client import QdrantClient

from manualqa.config import Settings
from manualqa.documents import Chunk, ManualRef
from manualqa.index import delta_log, open_index
from manualqa.index.base import (
    EmbeddingMismatch,
    EmbeddingSpace,
    IndexNotPublished,
    IndexPoint,
    IndexQuery,
    SearchFilters,
    SparseVector,
    sparse_from_token_ids,
)
from manualqa.index.edge import EdgeIndex
from manualqa.index.postgres import PostgresIndex
from manualqa.index.qdrant_server import QdrantAliasWriter, QdrantServerIndex

DIM = 8
MODEL = "manualqa/all-MiniLM-L6-v2"
SPACE = EmbeddingSpace(MODEL, DIM)
BACKENDS = ["edge", "qdrant_server", "postgres"]


def _ref(key, vendor="Acme Appliances", product="AC-200", public=True, uses=("index", "serve")):
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
        allowed_uses=uses,
    )


def _points(ref, n, offset=0, dim=DIM):
    points = []
    for i in range(n):
        vec = np.zeros(dim, dtype=np.float32)
        vec[(i + offset) % dim] = 1.0
        chunk = Chunk(ref.key, i, f"{ref.product} text {i + offset}", i + 1, i + 1, ("1 Intro",), 4)
        points.append(IndexPoint(chunk, ref, vec, sparse_from_token_ids([100 + i + offset])))
    return points


def _unit(i):
    vec = np.zeros(DIM, dtype=np.float32)
    vec[i] = 1.0
    return vec


def _query(dense, top_k=8, sparse=None, text="", **filters):
    return IndexQuery(text, dense, sparse, top_k, SearchFilters(**filters))


def _make(kind, tmp_path, dim=DIM, database_url=None):
    space = EmbeddingSpace(MODEL, dim)
    if kind == "edge":
        return EdgeIndex(tmp_path / "edge", space)
    if kind == "postgres":  # tables of their own on the session's embedded server
        return PostgresIndex(database_url, f"t{uuid.uuid4().hex[:12]}", space)
    client = QdrantClient(path=str(tmp_path / "qdrant"))  # the server's client API, in-process
    return QdrantServerIndex(lambda: client, "c", space, shared=True)


@pytest.fixture(params=BACKENDS)
def index(request, tmp_path):
    url = request.getfixturevalue("database_url") if request.param == "postgres" else None
    return _make(request.param, tmp_path, database_url=url)


def test_replacing_a_manual_replaces_only_its_points(index):
    writer = index.writer()
    writer.replace_manual("a", _points(_ref("a"), 5))
    writer.replace_manual("b", _points(_ref("b", product="AC-300"), 3))
    result = writer.replace_manual("a", _points(_ref("a"), 2, offset=4))

    assert (result.manual_points, result.removed, result.total_points) == (2, 5, 5)
    reader = index.reader()
    assert (reader.count("a"), reader.count("b"), reader.count()) == (2, 3, 5)
    reader.close()


def test_deleting_a_manual_removes_its_points(index):
    writer = index.writer()
    writer.replace_manual("a", _points(_ref("a"), 4))
    writer.replace_manual("b", _points(_ref("b"), 3))
    result = writer.delete_manual("a")
    assert (result.removed, result.total_points) == (4, 3)
    reader = index.reader()
    assert (reader.count("a"), reader.count()) == (0, 3)
    assert {h.manual_key for h in reader.search(_query(_unit(0), 20))} == {"b"}


def test_point_ids_are_deterministic():
    first = [p.point_id for p in _points(_ref("a"), 3)]
    assert first == [p.point_id for p in _points(_ref("a"), 3)]
    assert len(set(first)) == 3
    assert set(first).isdisjoint(p.point_id for p in _points(_ref("b"), 3))


def test_search_filters_by_vendor_product_visibility_and_use(index):
    writer = index.writer()
    writer.replace_manual("a", _points(_ref("a"), 4))
    writer.replace_manual("b", _points(_ref("b", product="PureAir AC-300 Purifier"), 4))
    writer.replace_manual("s", _points(_ref("s", product="AC-300", public=False), 4))
    writer.replace_manual("x", _points(_ref("x", product="AC-300", uses=("index",)), 4))
    reader = index.reader()

    hits = reader.search(_query(_unit(1), product="ac 300"))
    assert {h.manual_key for h in hits} == {"b"}
    assert reader.search(_query(_unit(1), product="AC-30")) == []
    assert {h.manual_key for h in reader.search(_query(_unit(1), vendor="ACME"))} == {"a", "b"}
    assert hits[0].score == pytest.approx(1.0)
    assert hits[0].page == 2
    assert reader.search(_query(_unit(1), vendor="Other Co")) == []
    everything = reader.search(_query(_unit(1), 20, public_only=False, use=None))
    assert {h.manual_key for h in everything} == {"a", "b", "s", "x"}
    indexing = reader.search(_query(_unit(1), 20, use="index"))
    assert {h.manual_key for h in indexing} == {"a", "b", "x"}
    chosen = reader.search(_query(_unit(1), 20, manual_keys=("a", "s", "x")))
    assert {h.manual_key for h in chosen} == {"a"}  # "s" is not public, "x" not to serve
    assert reader.search(_query(_unit(1), 20, manual_keys=())) == []
    assert {h.manual_key for h in reader.search(_query(_unit(1), 20, manual_key="b"))} == {"b"}
    withheld = reader.search(_query(_unit(1), 20, withheld_manual_keys=("b",)))
    assert {h.manual_key for h in withheld} == {"a"}  # a revoked license withholds "b"


def test_hybrid_search_fuses_sparse_matches_and_reports_cosine(index):
    index.writer().replace_manual("a", _points(_ref("a"), 6))
    reader = index.reader()
    # Dense points at ordinal 1; the sparse term (token 103) and the word "3" at ordinal 3.
    hits = reader.search(_query(_unit(1), 2, sparse=sparse_from_token_ids([103]), text="3"))
    assert {h.text for h in hits} == {"AC-200 text 1", "AC-200 text 3"}
    scores = {h.text: h.score for h in hits}
    assert scores["AC-200 text 1"] == pytest.approx(1.0)
    assert scores["AC-200 text 3"] == pytest.approx(0.0)


def test_reader_without_a_publication_says_what_to_do(index):
    reader = index.reader()
    assert reader.version is None
    with pytest.raises(IndexNotPublished, match="materialize"):
        reader.count()
    with pytest.raises(IndexNotPublished, match="materialize"):
        reader.search(_query(_unit(0)))


def test_reader_switches_to_each_publication(index):
    writer = index.writer()
    writer.replace_manual("a", _points(_ref("a"), 3))
    reader = index.reader()
    versions = {reader.version}
    assert reader.count() == 3
    for n in range(4, 8):
        writer.replace_manual("a", _points(_ref("a"), n))
        assert reader.refresh()
        assert reader.count() == n
        versions.add(reader.version)
    assert len(versions) == 5
    assert not reader.refresh()  # nothing new published
    reader.close()


def test_readers_never_see_half_a_manual(index):
    """While manual "a" flips between 5 and 40 points, every count a reader takes is
    one of the two: a publication switches atomically."""
    writer = index.writer()
    writer.replace_manual("a", _points(_ref("a"), 5))
    reader = index.reader()
    seen: set[int] = set()
    stop = threading.Event()

    def read():
        while not stop.is_set():
            reader.refresh()
            seen.add(reader.count("a"))

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for round_ in range(12):
            writer.replace_manual("a", _points(_ref("a"), 40 if round_ % 2 == 0 else 5))
    finally:
        stop.set()
        thread.join(30)
    assert seen <= {5, 40}
    reader.refresh()
    assert reader.count("a") == 5


def test_vector_size_mismatch_is_refused(index, tmp_path):
    index.writer().replace_manual("a", _points(_ref("a"), 1))
    with pytest.raises(ValueError, match="8-d"):
        index.writer().replace_manual("a", _points(_ref("a"), 1, dim=16))


def test_a_different_dimension_on_an_existing_index_is_refused(tmp_path):
    EdgeIndex(tmp_path, SPACE).writer().replace_manual("a", _points(_ref("a"), 1))
    with pytest.raises(ValueError, match="8-d vectors"):
        EdgeIndex(tmp_path, EmbeddingSpace(MODEL, 16)).writer().replace_manual("a", [])


def _reopened(index, space):
    """The same stored index, opened for another embedding model or dimension."""
    if isinstance(index, EdgeIndex):
        return EdgeIndex(index.root, space)
    if isinstance(index, PostgresIndex):
        return PostgresIndex(index.url, index.collection, space)
    return QdrantServerIndex(index.connect, index.collection, space, shared=True)


def test_each_publication_records_the_embedding_model_and_another_is_refused(index):
    assert index.reader().embedding() is None
    index.writer().replace_manual("a", _points(_ref("a"), 2))
    assert index.reader().embedding() == SPACE
    other = _reopened(index, EmbeddingSpace("openai/text-embedding-3-small", DIM))
    with pytest.raises(EmbeddingMismatch) as refused:
        other.writer().replace_manual("b", _points(_ref("b"), 2))
    assert f"model '{MODEL}', not 'openai/text-embedding-3-small'" in str(refused.value)
    assert index.reader().count() == 2


@pytest.mark.parametrize(
    ("configured", "said"),
    [
        ({"model": "openai/text-embedding-3-small"}, f"model '{MODEL}', not 'openai/"),
        ({"dimension": 16}, "8-d vectors, not 16-d"),
    ],
)
def test_the_api_refuses_an_index_of_another_embedding_model(
    tmp_path, monkeypatch, configured, said
):
    # Imported here: the spawned writer processes of another test import this module,
    # and LiteLLM takes seconds to import.
    from manualqa.llm import LLMClient
    from manualqa.retrieval import open_retriever

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL_FILE", raising=False)
    built = Settings(data_dir=tmp_path, embedding={"dimension": DIM})
    writer = open_index(built).writer()
    writer.replace_manual("a", _points(_ref("a"), 2))
    served = Settings(data_dir=tmp_path, embedding={"dimension": DIM, **configured})
    llm = LLMClient(served.llm, served.embedding)
    with pytest.raises(EmbeddingMismatch, match=said):
        open_retriever(served, llm)  # what the API opens at start-up, before any request


def _write_in_child(root, key, n):
    EdgeIndex(root, SPACE).writer().replace_manual(key, _points(_ref(key), n))


def test_edge_writers_in_separate_processes_are_serialised(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_in_child, args=(tmp_path, k, 4)) for k in "abcd"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert EdgeIndex(tmp_path, SPACE).reader().count() == 16


def test_edge_publication_costs_the_manual_not_the_collection(tmp_path):
    edge = EdgeIndex(tmp_path, SPACE)
    writer = edge.writer()
    alone = writer.replace_manual("a", _points(_ref("a"), 20)).published_bytes
    for k in range(30):
        writer.replace_manual(f"m{k}", _points(_ref(f"m{k}"), 20))
    among_many = writer.replace_manual("a", _points(_ref("a"), 20)).published_bytes
    assert among_many == alone


def test_edge_compaction_keeps_the_live_points(tmp_path, monkeypatch):
    monkeypatch.setattr(delta_log, "COMPACT_MIN_POINTS", 10)
    edge = EdgeIndex(tmp_path, SPACE)
    writer = edge.writer()
    writer.replace_manual("b", _points(_ref("b"), 3))
    behind = edge.reader()  # stays at the first version while the log compacts
    for n in range(1, 12):
        writer.replace_manual("a", _points(_ref("a"), n))
    state = delta_log.DeltaLog(tmp_path, SPACE).state()
    assert state is not None and state.base > 0 and state.points == {"a": 11, "b": 3}
    files = sorted(p.name for p in (tmp_path / "changes").glob("*.npz"))
    assert len(files) < 12  # files before the previous base are gone
    fresh = edge.reader()
    assert (fresh.count("a"), fresh.count("b")) == (11, 3)
    assert behind.refresh()  # rebuilt from the base
    assert (behind.count("a"), behind.count("b")) == (11, 3)


def test_server_writer_brings_the_retired_collection_up_to_date_next_time(tmp_path, monkeypatch):
    index = _make("qdrant_server", tmp_path)
    writer = index.writer()
    writer.replace_manual("a", _points(_ref("a"), 3))
    writer.replace_manual("a", _points(_ref("a"), 6))
    reader = index.reader()
    retired = writer._other(writer._active())
    assert writer._count(retired, "a") == 3  # nothing rewrites it under a search in flight

    def dies(self, collection, manual_key, points):
        raise RuntimeError("writer died")

    monkeypatch.setattr(QdrantAliasWriter, "_write", dies)
    with pytest.raises(RuntimeError):
        writer.replace_manual("b", _points(_ref("b"), 2))
    monkeypatch.undo()
    assert (reader.count("a"), reader.count("b")) == (6, 0)  # still the last publication
    writer.replace_manual("b", _points(_ref("b"), 2))  # to the collection retired before
    assert (reader.count("a"), reader.count("b")) == (6, 2)


def test_open_index_follows_the_configured_backend(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)  # other tests' sessions set it
    monkeypatch.delenv("DATABASE_URL_FILE", raising=False)
    settings = Settings(data_dir=tmp_path, embedding={"dimension": DIM})
    assert isinstance(open_index(settings), EdgeIndex)
    server = Settings(index={"backend": "qdrant", "url": "http://127.0.0.1:6333"})
    assert isinstance(open_index(server), QdrantServerIndex)
    with pytest.raises(ValueError, match=r"needs index\.url"):
        Settings(index={"backend": "qdrant"})
    with pytest.raises(ValueError, match="DATABASE_URL"):
        open_index(Settings(index={"backend": "postgres"}, database_url=None))


def _corpus(rng, manuals=6, per_manual=60, dim=32, vocab=400):
    """Points with random unit vectors and bag-of-token sparse vectors."""
    points = {}
    for m in range(manuals):
        ref = _ref(f"m{m}", product=f"AC-{m}00", public=m != 5)
        chunks = []
        for i in range(per_manual):
            vec = rng.normal(size=dim).astype(np.float32)
            vec /= np.linalg.norm(vec)
            # Distinct random term weights: no two points tie on a sparse query.
            terms = sorted(set(rng.integers(0, vocab, size=int(rng.integers(5, 30))).tolist()))
            weights = rng.uniform(0.5, 2.0, size=len(terms)).tolist()
            chunk = Chunk(ref.key, i, f"m{m} chunk {i}", i + 1, i + 1, ("1 Intro",), len(terms))
            chunks.append(IndexPoint(chunk, ref, vec, SparseVector(terms, weights)))
        points[ref.key] = chunks
    return points


def test_backends_agree_on_the_same_points(tmp_path, database_url):
    """Congruence: the same queries over the same points give the same top results.

    Dense search agrees on every backend; hybrid search agrees between the two Qdrant
    engines (PostgreSQL ranks words with `ts_rank`, not the sparse vectors' BM25)."""
    rng = np.random.default_rng(7)
    corpus = _corpus(rng)
    readers = {}
    for kind in BACKENDS:
        index = _make(kind, tmp_path / kind, dim=32, database_url=database_url)
        writer = index.writer()
        for key, points in corpus.items():
            writer.replace_manual(key, points)
        readers[kind] = index.reader()
    filters = [SearchFilters(), SearchFilters(product="ac 200"), SearchFilters(public_only=False)]
    for q in range(20):
        dense = rng.normal(size=32).astype(np.float32)
        dense /= np.linalg.norm(dense)
        tokens = rng.integers(0, 400, size=4).tolist()
        sparse = sparse_from_token_ids(tokens) if q % 2 else None
        query = IndexQuery("", dense, sparse, 5, filters[q % len(filters)])
        results = {kind: reader.search(query) for kind, reader in readers.items()}
        edge = [h.chunk_id for h in results["edge"]]
        server = [h.chunk_id for h in results["qdrant_server"]]
        if sparse is None:
            assert edge == server == [h.chunk_id for h in results["postgres"]], f"query {q}"
            continue
        # RRF ties a point ranked i by dense alone with one ranked i by sparse alone (and
        # sometimes a third): tied points come in either order, and a tie at the cut may
        # pick either. The same points, then, up to the last place.
        assert set(edge[:-1]) <= set(server) and set(server[:-1]) <= set(edge), f"query {q}"


def test_an_empty_sparse_vector_means_dense_search(index):
    index.writer().replace_manual("a", _points(_ref("a"), 4))
    reader = index.reader()
    dense_only = reader.search(_query(_unit(2), 2))
    empty = reader.search(_query(_unit(2), 2, sparse=SparseVector([], [])))
    assert [h.chunk_id for h in empty] == [h.chunk_id for h in dense_only]


def test_a_restarted_edge_reader_takes_over_the_shard_it_left(tmp_path):
    edge = EdgeIndex(tmp_path, SPACE)
    writer = edge.writer()
    writer.replace_manual("a", _points(_ref("a"), 4))
    first = edge.reader()
    assert first.count() == 4
    first.close()
    (left,) = (tmp_path / "readers").iterdir()
    (left / "left-by-first").touch()
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()  # a process id that no longer runs: the left folder is abandoned
    abandoned = left.rename(left.with_name(f"{exited.pid}-{left.name.split('-', 1)[1]}"))
    writer.replace_manual("b", _points(_ref("b"), 3))

    second = edge.reader()
    (now,) = (tmp_path / "readers").iterdir()
    assert not abandoned.exists() and (now / "left-by-first").exists()  # taken over, not rebuilt
    assert (second.version, second.count("a"), second.count("b")) == ("2", 4, 3)


def test_edge_searches_run_on_the_configured_number_of_threads(tmp_path):
    def threads_of(reader) -> int:
        (folder,) = (tmp_path / "readers").iterdir()
        return json.loads((folder / "edge_config.json").read_text())["max_search_threads"]

    EdgeIndex(tmp_path, SPACE).writer().replace_manual("a", _points(_ref("a"), 4))
    built = EdgeIndex(tmp_path, SPACE).reader()  # the default: one thread a search
    assert threads_of(built) == 1
    built.close()
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    (left,) = (tmp_path / "readers").iterdir()
    left.rename(left.with_name(f"{exited.pid}-{left.name.split('-', 1)[1]}"))
    taken_over = EdgeIndex(tmp_path, SPACE, search_threads=3).reader()
    assert threads_of(taken_over) == 3 and taken_over.count("a") == 4
    taken_over.close()


def test_a_postgres_collection_name_must_be_a_plain_identifier(database_url):
    with pytest.raises(ValueError, match="SQL identifier"):
        PostgresIndex(database_url, "chunks; DROP TABLE manuals", SPACE)


def test_the_postgres_reader_searches_over_pooled_connections(database_url):
    index = _make("postgres", None, database_url=database_url)
    index.writer().replace_manual("a", _points(_ref("a"), 4))
    reader = index.reader()
    for n in range(10):
        assert reader.search(_query(_unit(n % DIM), 2))
    assert reader.engine.pool.checkedin() == 1  # one connection served every search
    reader.close()
