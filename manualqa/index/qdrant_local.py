"""Qdrant local mode, published as immutable snapshots behind a pointer file.

Local mode lets one process open a storage folder at a time, so the writer owns
`work/`, copies it to `snapshots/<version>/` after every change and flips
`CURRENT` (an atomic rename). Readers open the snapshot `CURRENT` names and
switch when it moves: the local twin of a server-side collection alias switch.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import fasteners
import numpy as np
from qdrant_client import QdrantClient, models

from manualqa.documents import slugify
from manualqa.index.base import (
    Hit,
    IndexPoint,
    PublishResult,
    SearchFilters,
    SparseVector,
    cosine,
)

log = logging.getLogger(__name__)

DENSE = "dense"
SPARSE = "sparse"
POINTER = "CURRENT"
UPSERT_BATCH = 256


class IndexNotPublished(RuntimeError):
    """No snapshot has been published yet: materialize `qdrant_collection` first."""


def _collection_config(client: QdrantClient, collection: str, dimension: int) -> None:
    if client.collection_exists(collection):
        info = client.get_collection(collection)
        vectors = info.config.params.vectors
        size = vectors[DENSE].size if isinstance(vectors, dict) else None
        if size != dimension:
            raise ValueError(
                f"collection {collection!r} has {size}-d vectors; the embedder makes {dimension}-d"
            )
        return
    client.create_collection(
        collection,
        vectors_config={
            DENSE: models.VectorParams(size=dimension, distance=models.Distance.COSINE)
        },
        sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
    )


def _manual_filter(manual_key: str) -> models.Filter:
    return models.Filter(
        must=[models.FieldCondition(key="manual_key", match=models.MatchValue(value=manual_key))]
    )


class QdrantSnapshotWriter:
    """Writes one manual's points at a time; serialises writers across processes."""

    def __init__(self, root: Path, collection: str, dimension: int, keep_snapshots: int = 3):
        self.root = root
        self.collection = collection
        self.dimension = dimension
        self.keep_snapshots = keep_snapshots
        (root / "snapshots").mkdir(parents=True, exist_ok=True)

    def replace_manual(self, manual_key: str, points: list[IndexPoint]) -> PublishResult:
        foreign = {p.chunk.manual_key for p in points} - {manual_key}
        if foreign:
            raise ValueError(
                f"points for {sorted(foreign)} passed to replace_manual({manual_key!r})"
            )
        with fasteners.InterProcessLock(str(self.root / ".write.lock")):
            with self._open_work() as client:
                flt = _manual_filter(manual_key)
                before = client.count(self.collection, count_filter=flt).count
                client.delete(self.collection, points_selector=flt)
                for start in range(0, len(points), UPSERT_BATCH):
                    batch = points[start : start + UPSERT_BATCH]
                    client.upsert(self.collection, points=[_to_point(p) for p in batch])
                manual_points = client.count(self.collection, count_filter=flt).count
                total = client.count(self.collection).count
            version, size = self._publish()
        return PublishResult(version, manual_points, total, size, removed=before)

    def delete_manual(self, manual_key: str) -> PublishResult:
        return self.replace_manual(manual_key, [])

    @contextmanager
    def _open_work(self) -> Iterator[QdrantClient]:
        client = QdrantClient(path=str(self.root / "work"))
        try:
            _collection_config(client, self.collection, self.dimension)
            yield client
        finally:
            client.close()

    def _publish(self) -> tuple[str, int]:
        """Copy the closed `work/` store to a new snapshot and point CURRENT at it."""
        version = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
        target = self.root / "snapshots" / version
        shutil.copytree(self.root / "work", target, ignore=shutil.ignore_patterns(".lock"))
        tmp = self.root / f".{POINTER}.{version}.tmp"
        tmp.write_text(version, encoding="utf-8")
        os.replace(tmp, self.root / POINTER)
        self._prune(keep={version})
        size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
        log.info("published index snapshot %s (%d bytes)", version, size)
        return version, size

    def _prune(self, keep: set[str]) -> None:
        snapshots = sorted((self.root / "snapshots").iterdir(), key=lambda p: p.name)
        for old in snapshots[: -self.keep_snapshots]:
            if old.name not in keep:
                shutil.rmtree(old, ignore_errors=True)


def _to_point(p: IndexPoint) -> models.PointStruct:
    return models.PointStruct(
        id=p.point_id,
        vector={
            DENSE: p.dense.astype(np.float32).tolist(),
            SPARSE: models.SparseVector(indices=p.sparse.indices, values=p.sparse.values),
        },
        payload=p.payload(),
    )


def current_version(root: Path) -> str | None:
    pointer = root / POINTER
    return pointer.read_text(encoding="utf-8").strip() if pointer.exists() else None


class QdrantSnapshotReader:
    """Serves searches from the published snapshot; `refresh()` follows CURRENT."""

    def __init__(self, root: Path, collection: str) -> None:
        self.root = root
        self.collection = collection
        self._lock = threading.Lock()
        self._client: QdrantClient | None = None
        self._retired: QdrantClient | None = None
        self._version: str | None = None

    @property
    def version(self) -> str | None:
        return self._version

    def refresh(self) -> bool:
        """Open the newest snapshot if CURRENT moved; return True when it switched."""
        version = current_version(self.root)
        if version is None or version == self._version:
            return False
        client = QdrantClient(path=str(self._private_copy(version)))
        with self._lock:
            old_retired, self._retired = self._retired, self._client
            retired_version, self._version = self._version, version
            self._client = client
        if old_retired is not None:  # closed one generation late: in-flight queries finish
            old_retired.close()
        self._drop_copies(keep={version, retired_version})
        log.info("serving index snapshot %s", version)
        return True

    def _reader_dir(self, version: str | None) -> Path:
        return self.root / "readers" / f"{os.getpid()}-{version}"

    def _private_copy(self, version: str) -> Path:
        """Each reader opens its own copy: local mode locks the folder it opens, and the
        writer may prune the published snapshot while this reader still serves it."""
        target = self._reader_dir(version)
        if not target.exists():
            source = self.root / "snapshots" / version
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(".lock"))
        return target

    def _drop_copies(self, keep: set[str | None]) -> None:
        kept = {self._reader_dir(v) for v in keep}
        for copy in (self.root / "readers").glob(f"{os.getpid()}-*"):
            if copy not in kept:
                shutil.rmtree(copy, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            clients = [c for c in (self._client, self._retired) if c is not None]
            self._client = self._retired = None
            self._version = None
        for client in clients:
            client.close()
        self._drop_copies(keep=set())

    def _require(self) -> QdrantClient:
        if self._client is None:
            self.refresh()
        if self._client is None:
            raise IndexNotPublished(f"no index snapshot under {self.root}; materialize the assets")
        return self._client

    def count(self, manual_key: str | None = None) -> int:
        client = self._require()
        flt = _manual_filter(manual_key) if manual_key else None
        return client.count(self.collection, count_filter=flt).count

    def search(
        self,
        dense: np.ndarray,
        sparse: SparseVector | None,
        top_k: int,
        filters: SearchFilters,
    ) -> list[Hit]:
        client = self._require()
        flt = _search_filter(filters)
        dense_list = dense.astype(np.float32).tolist()
        if sparse is None or not sparse.indices:
            result = client.query_points(
                self.collection,
                query=dense_list,
                using=DENSE,
                query_filter=flt,
                limit=top_k,
                with_payload=True,
            )
            return [Hit.from_payload(p.payload or {}, float(p.score)) for p in result.points]
        depth = max(top_k * 4, 20)
        result = client.query_points(
            self.collection,
            prefetch=[
                models.Prefetch(query=dense_list, using=DENSE, filter=flt, limit=depth),
                models.Prefetch(
                    query=models.SparseVector(indices=sparse.indices, values=sparse.values),
                    using=SPARSE,
                    filter=flt,
                    limit=depth,
                ),
            ],
            query=models.FusionQuery(fusion=models.Fusion.RRF),
            limit=top_k,
            with_payload=True,
            with_vectors=[DENSE],
        )
        hits = []
        for point in result.points:
            vectors = point.vector if isinstance(point.vector, dict) else {}
            hits.append(Hit.from_payload(point.payload or {}, cosine(dense, vectors[DENSE])))  # type: ignore[arg-type]
        return hits


def _search_filter(filters: SearchFilters) -> models.Filter | None:
    must: list[models.Condition] = []
    for field, value in (
        ("vendor_slug", filters.vendor),
        ("product_slug", filters.product),
    ):
        if value:  # whole words in order: "AC-300" matches "PureAir AC-300 Air Purifier"
            must.append(
                models.FieldCondition(key=field, match=models.MatchPhrase(phrase=slugify(value)))
            )
    if filters.manual_key:
        must.append(
            models.FieldCondition(
                key="manual_key", match=models.MatchValue(value=filters.manual_key)
            )
        )
    if filters.manual_keys is not None:
        must.append(
            models.FieldCondition(
                key="manual_key", match=models.MatchAny(any=list(filters.manual_keys))
            )
        )
    if filters.public_only:
        must.append(models.FieldCondition(key="is_public", match=models.MatchValue(value=True)))
    must_not: list[models.Condition] = []
    if filters.withheld_manual_keys:
        must_not.append(
            models.FieldCondition(
                key="manual_key", match=models.MatchAny(any=list(filters.withheld_manual_keys))
            )
        )
    return models.Filter(must=must, must_not=must_not) if must or must_not else None
