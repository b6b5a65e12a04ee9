"""Qdrant Edge: Qdrant's engine in-process (HNSW, sparse vectors with IDF, RRF fusion).

An Edge shard is opened by one process at a time (its folder is locked), so the writer
never touches a served shard: it appends each manual's new points to a `DeltaLog`, and
every reader applies the published changes to its own private shard. A change is
applied under the reader's lock, so a search sees a manual's old points or its new
ones, never a mix. A reader leaves its flushed shard behind when its process exits, and
the next reader process takes it over instead of rebuilding from the whole log.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import uuid
from pathlib import Path

import qdrant_edge as qe

from manualqa.documents import slugify
from manualqa.index.base import (
    RRF_K,
    EmbeddingSpace,
    Hit,
    Hits,
    IndexNotPublished,
    IndexPoint,
    IndexQuery,
    PublishResult,
    SearchFilters,
    check_embedding,
    cosines,
    named_vector,
)
from manualqa.index.delta_log import Change, DeltaLog, LogState

log = logging.getLogger(__name__)

DENSE = "dense"
SPARSE = "sparse"
UPSERT_BATCH = 1024
OPTIMIZE_AFTER = 5_000  # points applied since the last optimisation before re-indexing
HELD = "HELD"  # in a reader's shard folder: the change the flushed shard holds


class EdgeIndex:
    """The Edge backend under `root`: a change log plus one private shard per reader."""

    def __init__(self, root: Path, space: EmbeddingSpace, search_threads: int = 1) -> None:
        self.root = root
        self.space = space
        self.search_threads = search_threads  # per search (`IndexSettings.edge_search_threads`)

    def writer(self) -> EdgeWriter:
        return EdgeWriter(DeltaLog(self.root, self.space))

    def reader(self) -> EdgeReader:
        reader = EdgeReader(
            DeltaLog(self.root, self.space), self.root / "readers", self.search_threads
        )
        reader.refresh()
        return reader


class EdgeWriter:
    """Publishes a manual's points as one change of the log."""

    def __init__(self, log: DeltaLog) -> None:
        self.log = log

    def replace_manual(self, manual_key: str, points: list[IndexPoint]) -> PublishResult:
        return self.log.publish(manual_key, points)

    def delete_manual(self, manual_key: str) -> PublishResult:
        return self.log.publish(manual_key, [])

    def close(self) -> None:
        """Nothing stays open between publications."""


def _shard_config(dimension: int, search_threads: int) -> qe.EdgeConfig:
    return qe.EdgeConfig(
        vectors={DENSE: qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine)},
        sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        wal_enabled=False,  # a reader's shard is rebuilt from the log, never recovered
        max_search_threads=search_threads,
    )


def _create_shard(path: Path, dimension: int, search_threads: int) -> qe.EdgeShard:
    shard = qe.EdgeShard.create(str(path), _shard_config(dimension, search_threads))
    words = qe.TextIndexParams(
        tokenizer=qe.TokenizerType.Word, lowercase=True, phrase_matching=True
    )
    for field_name, schema in (
        ("manual_key", qe.PayloadSchemaType.Keyword),
        ("allowed_uses", qe.PayloadSchemaType.Keyword),
        ("visibility", qe.PayloadSchemaType.Keyword),
        ("vendor_slug", words),
        ("product_slug", words),
    ):
        shard.update(qe.UpdateOperation.create_field_index(field_name, schema))
    return shard


def _apply(shard: qe.EdgeShard, change: Change) -> None:
    if change.manual_key is None:
        raise ValueError("a base change is applied only to a new shard")
    shard.update(qe.UpdateOperation.delete_points_by_filter(_manual_filter(change.manual_key)))
    _insert(shard, change)


def _insert(shard: qe.EdgeShard, change: Change) -> None:
    b = change.points
    for start in range(0, len(b), UPSERT_BATCH):
        rows = range(start, min(start + UPSERT_BATCH, len(b)))
        points = [
            qe.Point(
                b.ids[r],
                {
                    DENSE: b.dense[r].tolist(),
                    SPARSE: qe.SparseVector(b.sparse_indices[r], b.sparse_values[r]),
                },
                b.payloads[r],
            )
            for r in rows
        ]
        shard.update(qe.UpdateOperation.upsert_points(points))


class EdgeReader:
    """Serves searches from a private shard that follows the change log."""

    def __init__(self, log: DeltaLog, work_root: Path, search_threads: int = 1) -> None:
        self.log = log
        self.work_root = work_root
        self.search_threads = search_threads
        self._lock = threading.Lock()  # held by searches and by applying one change
        self._refreshing = threading.Lock()
        self._shard: qe.EdgeShard | None = None
        self._folder: Path | None = None
        self._seq = 0
        self._unoptimized = 0

    @property
    def version(self) -> str | None:
        return str(self._seq) if self._shard is not None else None

    def embedding(self) -> EmbeddingSpace | None:
        state = self.log.state()
        return None if state is None else state.space

    def refresh(self) -> bool:
        with self._refreshing:
            state = self.log.state()
            if state is None or (self._shard is not None and state.seq == self._seq):
                return False
            # A shard is built for the configured vectors: another log cannot be applied.
            check_embedding(state.space, self.log.space, f"the index under {self.log.root}")
            if self._shard is None:
                self._adopt(state)
                self._clean_stale_folders()
            if self._shard is None or state.base > self._seq:
                self._rebuild(state)
            else:
                self._catch_up(state)
            if self._unoptimized >= OPTIMIZE_AFTER and self._shard is not None:
                self._shard.optimize()  # searches go on meanwhile: the engine locks segments
                self._unoptimized = 0
            self._mark_held()
        log.info("serving index version %s", self._seq)
        return True

    def _mark_held(self) -> None:
        """Flush the shard and note its change, so a later process can take it over."""
        if self._shard is None or self._folder is None:
            return
        self._shard.flush()
        tmp = self._folder / f".{HELD}.tmp"
        tmp.write_text(str(self._seq), encoding="utf-8")
        os.replace(tmp, self._folder / HELD)

    def _adopt(self, state: LogState) -> None:
        """Take over the freshest shard that an exited reader process left, if the log
        still holds every change after it: a restart then costs the changes since."""
        candidates = []
        for folder in self.work_root.iterdir() if self.work_root.exists() else ():
            if not _abandoned(folder) or not (folder / HELD).exists():
                continue
            held = int((folder / HELD).read_text(encoding="utf-8"))
            if state.base <= held <= state.seq:
                candidates.append((held, folder))
        for held, folder in sorted(candidates, reverse=True):
            target = self.work_root / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
            try:
                os.rename(folder, target)  # atomic: one process wins each folder
            except OSError:
                continue
            try:
                config = _shard_config(self.log.dimension, self.search_threads)
                shard = qe.EdgeShard.load(str(target), config)
            except Exception:  # unreadable (e.g. cut off mid-write): rebuild instead
                log.warning("could not load the abandoned shard %s", target, exc_info=True)
                shutil.rmtree(target, ignore_errors=True)
                continue
            self._shard, self._folder, self._seq = shard, target, held
            log.info("took over the shard of an exited reader at version %d", held)
            return

    def _rebuild(self, state: LogState) -> None:
        """Build a new shard from the newest base, then swap it in."""
        self._clean_stale_folders()
        folder = self.work_root / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        shard = _create_shard(folder, self.log.dimension, self.search_threads)
        try:
            for change in self.log.changes(max(state.base - 1, 0), state.seq):
                if change.manual_key is None:
                    _insert(shard, change)
                else:
                    _apply(shard, change)
            shard.optimize()
        except BaseException:
            shard.close()
            shutil.rmtree(folder, ignore_errors=True)
            raise
        with self._lock:
            old, old_folder = self._shard, self._folder
            self._shard, self._folder, self._seq = shard, folder, state.seq
        self._unoptimized = 0
        self._drop(old, old_folder)

    def _catch_up(self, state: LogState) -> None:
        for change in self.log.changes(self._seq, state.seq):
            with self._lock:
                assert self._shard is not None
                _apply(self._shard, change)
                self._seq = change.seq
            self._unoptimized += len(change.points)

    def _clean_stale_folders(self) -> None:
        """Drop the other shards that exited reader processes left."""
        if not self.work_root.exists():
            return
        for folder in self.work_root.iterdir():
            if _abandoned(folder):
                shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def _drop(shard: qe.EdgeShard | None, folder: Path | None) -> None:
        if shard is not None:
            shard.close()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        """Close the shard; its flushed folder stays for the next process to take over."""
        with self._refreshing, self._lock:
            shard, self._shard, self._folder = self._shard, None, None
            self._seq = 0
        if shard is not None:
            shard.close()

    def _require(self) -> qe.EdgeShard:
        if self._shard is None:
            self.refresh()
        if self._shard is None:
            raise IndexNotPublished(
                f"no index published under {self.log.root}; materialize the assets"
            )
        return self._shard

    def count(self, manual_key: str | None = None) -> int:
        self._require()
        flt = _manual_filter(manual_key) if manual_key else None
        with self._lock:
            assert self._shard is not None
            return self._shard.count(qe.CountRequest(exact=True, filter=flt))

    def search(self, query: IndexQuery) -> Hits:
        self._require()
        if query.filters.matches_nothing:
            return Hits([], self.version)
        flt = _search_filter(query.filters)
        dense = query.dense.tolist()
        if query.sparse is None or not query.hybrid:
            request = qe.QueryRequest(
                limit=query.top_k,
                query=qe.Query.Nearest(dense, using=DENSE),
                filter=flt,
                with_payload=True,
            )
            with self._lock:
                assert self._shard is not None
                points, version = self._shard.query(request), self.version
            return Hits(
                (Hit.from_payload(p.payload or {}, float(p.score)) for p in points), version
            )
        sparse = qe.SparseVector(query.sparse.indices, query.sparse.values)
        request = qe.QueryRequest(
            limit=query.prefetch,  # every fused candidate: ties are broken below, not by Edge
            prefetches=[
                qe.Prefetch(
                    limit=query.prefetch, query=qe.Query.Nearest(dense, using=DENSE), filter=flt
                ),
                qe.Prefetch(
                    limit=query.prefetch, query=qe.Query.Nearest(sparse, using=SPARSE), filter=flt
                ),
            ],
            query=qe.Fusion.Rrf(k=RRF_K),  # type: ignore[arg-type]  # the stubs omit Rrf
            with_payload=False,  # read below for the top_k only: payloads are most of the cost
            with_vector=False,
        )
        with self._lock:  # one lock for both reads: the top ids and their payloads agree
            assert self._shard is not None
            fused, version = self._shard.query(request), self.version
            # RRF gives equal scores to points ranked alike in the two lists, and Edge
            # returns such ties in no fixed order: order them by point id, so the same query
            # always gets the same passages in the same order (an answer cache relies on it).
            top = sorted(fused, key=lambda p: (-float(p.score), str(p.id)))[: query.top_k]
            records = self._shard.retrieve(
                [p.id for p in top], with_payload=True, with_vector=[DENSE]
            )
        by_id = {str(r.id): r for r in records}
        ordered = [by_id[str(p.id)] for p in top]
        scores = cosines(query.dense, [named_vector(r.vector, DENSE) for r in ordered])
        hits = (Hit.from_payload(r.payload or {}, s) for r, s in zip(ordered, scores, strict=True))
        return Hits(hits, version)


def _abandoned(folder: Path) -> bool:
    """A reader folder whose process has exited."""
    pid = folder.name.split("-", 1)[0]
    return pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _manual_filter(manual_key: str) -> qe.Filter:
    return qe.Filter(must=[qe.FieldCondition(key="manual_key", match=qe.MatchValue(manual_key))])


def _search_filter(filters: SearchFilters) -> qe.Filter | None:
    must: list[qe.FieldCondition] = []
    for field_name, value in (("vendor_slug", filters.vendor), ("product_slug", filters.product)):
        if value:  # whole words in order: "AC-300" matches "PureAir AC-300 Air Purifier"
            must.append(qe.FieldCondition(key=field_name, match=qe.MatchPhrase(slugify(value))))
    if filters.manual_key:
        must.append(qe.FieldCondition(key="manual_key", match=qe.MatchValue(filters.manual_key)))
    if filters.manual_keys is not None:
        must.append(
            qe.FieldCondition(key="manual_key", match=qe.MatchAny(list(filters.manual_keys)))
        )
    if filters.public_only:
        must.append(qe.FieldCondition(key="visibility", match=qe.MatchValue("public")))
    if filters.use:
        must.append(qe.FieldCondition(key="allowed_uses", match=qe.MatchValue(filters.use)))
    must_not = (
        [qe.FieldCondition(key="manual_key", match=qe.MatchAny(list(filters.withheld_manual_keys)))]
        if filters.withheld_manual_keys
        else []
    )
    if not must and not must_not:
        return None
    return qe.Filter(must=list(must), must_not=list(must_not))
