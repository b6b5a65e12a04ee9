"""Qdrant server through `qdrant-client`, published by switching a collection alias.

Two collections, `<name>__blue` and `<name>__green`, hold the same points except for
the manual published last; the alias `<name>` names the one readers search. A change
is written to the standby collection and the alias is switched to it (atomic on the
server). The collection just retired is left alone until the next publication, which
first copies the manual the journal names as pending from the served collection: a
search that resolved the alias a moment before the switch never sees that collection
change under it. So a publication costs one manual twice, never a copy of the
collection. The journal collection also records the embedding model and dimension of
the points, and the version each collection holds: a search resolves the alias once and
reports the version of the collection it searched.

Tests run this code against `qdrant-client`'s local mode, which speaks the same API.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from qdrant_client import QdrantClient, models

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
    check_points,
    cosines,
    named_vector,
)

log = logging.getLogger(__name__)

DENSE = "dense"
SPARSE = "sparse"
UPSERT_BATCH = 256
COLORS = ("blue", "green")
JOURNAL_POINT = 1


class QdrantServerIndex:
    """The server backend: `connect` opens a client for each reader and writer."""

    def __init__(
        self,
        connect: Callable[[], QdrantClient],
        collection: str,
        space: EmbeddingSpace,
        *,
        shared: bool = False,  # `connect` hands out one client that callers must not close
    ) -> None:
        self.connect = connect
        self.collection = collection
        self.space = space
        self.shared = shared

    def _client(self) -> tuple[QdrantClient, Callable[[], None]]:
        client = self.connect()
        return client, (lambda: None) if self.shared else client.close

    def writer(self) -> QdrantAliasWriter:
        client, close = self._client()
        return QdrantAliasWriter(client, self.collection, self.space, close)

    def reader(self) -> QdrantAliasReader:
        client, close = self._client()
        reader = QdrantAliasReader(client, self.collection, close)
        reader.refresh()
        return reader


def _journal(collection: str) -> str:
    return f"{collection}__journal"


def _read_journal(client: QdrantClient, collection: str) -> dict[str, object] | None:
    if not client.collection_exists(_journal(collection)):
        return None
    records = client.retrieve(_journal(collection), [JOURNAL_POINT], with_payload=True)
    return dict(records[0].payload or {}) if records else None


def _journal_versions(journal: dict[str, object]) -> dict[str, int]:
    versions = journal.get("collections")
    return {str(k): int(v) for k, v in versions.items()} if isinstance(versions, dict) else {}


def _journal_space(journal: dict[str, object]) -> EmbeddingSpace:
    model, dimension = journal.get("model"), journal.get("dimension")
    return EmbeddingSpace(
        None if model is None else str(model), int(dimension) if isinstance(dimension, int) else 0
    )


class QdrantAliasWriter:
    """Brings the standby collection up to date, writes a manual to it, switches the alias."""

    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        space: EmbeddingSpace,
        close: Callable[[], None],
    ) -> None:
        self.client = client
        self.collection = collection
        self.space = space
        self.dimension = space.dimension
        self._close = close

    def close(self) -> None:
        self._close()

    def replace_manual(self, manual_key: str, points: list[IndexPoint]) -> PublishResult:
        check_points(manual_key, points, self.dimension)
        self._ensure_collections()
        journal = _read_journal(self.client, self.collection) or {
            "version": 0,
            "pending": [],
            "model": self.space.model,
            "dimension": self.dimension,
        }
        check_embedding(_journal_space(journal), self.space, f"the index {self.collection!r}")
        active = self._active()
        standby = self._other(active)
        for key in journal["pending"]:  # type: ignore[attr-defined]
            self._copy_manual(active, standby, str(key))
        version = int(journal["version"]) + 1  # type: ignore[call-overload]
        # The standby collection is named for the version it is about to hold before it
        # is written; no reader resolves the alias to it until the switch.
        holds = {**_journal_versions(journal), standby: version}
        self._save_journal(version - 1, [manual_key], holds)
        before = self._count(active, manual_key)
        self._write(standby, manual_key, points)
        self._switch_alias(standby)
        self._save_journal(version, [manual_key], holds)  # the retired one catches up next
        total = self.client.count(standby).count
        log.info("published %s to %s (alias %s)", manual_key, standby, self.collection)
        return PublishResult(str(version), len(points), total, removed=before)

    def delete_manual(self, manual_key: str) -> PublishResult:
        return self.replace_manual(manual_key, [])

    def _name(self, color: str) -> str:
        return f"{self.collection}__{color}"

    def _other(self, name: str) -> str:
        blue, green = (self._name(c) for c in COLORS)
        return green if name == blue else blue

    def _active(self) -> str:
        for alias in self.client.get_aliases().aliases:
            if alias.alias_name == self.collection:
                return alias.collection_name
        return self._name(COLORS[1])  # nothing served yet: the first write goes to blue

    def _ensure_collections(self) -> None:
        for color in COLORS:
            _ensure_collection(self.client, self._name(color), self.dimension)
        if not self.client.collection_exists(_journal(self.collection)):
            self.client.create_collection(
                _journal(self.collection),
                vectors_config=models.VectorParams(size=1, distance=models.Distance.DOT),
            )

    def _save_journal(self, version: int, pending: list[str], versions: dict[str, int]) -> None:
        self.client.upsert(
            _journal(self.collection),
            points=[
                models.PointStruct(
                    id=JOURNAL_POINT,
                    vector=[0.0],
                    payload={
                        "version": version,
                        "pending": pending,
                        "collections": versions,  # collection -> the version it holds
                        "model": self.space.model,
                        "dimension": self.dimension,
                    },
                )
            ],
        )

    def _count(self, collection: str, manual_key: str) -> int:
        return self.client.count(collection, count_filter=_manual_filter(manual_key)).count

    def _write(self, collection: str, manual_key: str, points: list[IndexPoint]) -> None:
        self.client.delete(collection, points_selector=_manual_filter(manual_key))
        for start in range(0, len(points), UPSERT_BATCH):
            batch = points[start : start + UPSERT_BATCH]
            self.client.upsert(collection, points=[_to_point(p) for p in batch])

    def _copy_manual(self, source: str, target: str, manual_key: str) -> None:
        self.client.delete(target, points_selector=_manual_filter(manual_key))
        offset = None
        while True:
            records, offset = self.client.scroll(
                source,
                scroll_filter=_manual_filter(manual_key),
                limit=UPSERT_BATCH,
                offset=offset,
                with_payload=True,
                with_vectors=True,
            )
            if records:
                self.client.upsert(
                    target,
                    points=[
                        models.PointStruct(id=r.id, vector=r.vector or {}, payload=r.payload)  # type: ignore[arg-type]
                        for r in records
                    ],
                )
            if offset is None:
                return

    def _switch_alias(self, target: str) -> None:
        operations: list[models.AliasOperations] = []
        if any(a.alias_name == self.collection for a in self.client.get_aliases().aliases):
            operations.append(
                models.DeleteAliasOperation(
                    delete_alias=models.DeleteAlias(alias_name=self.collection)
                )
            )
        operations.append(
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name=target, alias_name=self.collection)
            )
        )
        self.client.update_collection_aliases(change_aliases_operations=operations)


def _ensure_collection(client: QdrantClient, name: str, dimension: int) -> None:
    if client.collection_exists(name):
        vectors = client.get_collection(name).config.params.vectors
        size = vectors[DENSE].size if isinstance(vectors, dict) else None
        if size != dimension:
            raise ValueError(
                f"the index holds {size}-d vectors in {name!r}; the embedder makes {dimension}-d"
            )
        return
    client.create_collection(
        name,
        vectors_config={
            DENSE: models.VectorParams(size=dimension, distance=models.Distance.COSINE)
        },
        sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
    )
    words = models.TextIndexParams(
        type=models.TextIndexType.TEXT,
        tokenizer=models.TokenizerType.WORD,
        lowercase=True,
        phrase_matching=True,
    )
    for field_name, schema in (
        ("manual_key", models.PayloadSchemaType.KEYWORD),
        ("allowed_uses", models.PayloadSchemaType.KEYWORD),
        ("visibility", models.PayloadSchemaType.KEYWORD),
        ("vendor_slug", words),
        ("product_slug", words),
    ):
        client.create_payload_index(name, field_name, field_schema=schema)


def _to_point(p: IndexPoint) -> models.PointStruct:
    return models.PointStruct(
        id=p.point_id,
        vector={
            DENSE: p.dense.astype(np.float32).tolist(),
            SPARSE: models.SparseVector(indices=p.sparse.indices, values=p.sparse.values),
        },
        payload=p.payload(),
    )


class QdrantAliasReader:
    """Searches the alias; the server resolves it to the collection last switched to."""

    def __init__(self, client: QdrantClient, collection: str, close: Callable[[], None]) -> None:
        self.client = client
        self.collection = collection
        self._close = close
        self._version: str | None = None

    @property
    def version(self) -> str | None:
        return self._version

    def refresh(self) -> bool:
        journal = _read_journal(self.client, self.collection)
        version = None if journal is None or not journal["version"] else str(journal["version"])
        switched = version != self._version
        self._version = version
        return switched and version is not None

    def embedding(self) -> EmbeddingSpace | None:
        journal = _read_journal(self.client, self.collection)
        return None if journal is None or not journal["version"] else _journal_space(journal)

    def close(self) -> None:
        self._close()

    def _require(self) -> None:
        if self._version is None:
            self.refresh()
        if self._version is None:
            raise IndexNotPublished(
                f"no index published under the alias {self.collection!r}; materialize the assets"
            )

    def count(self, manual_key: str | None = None) -> int:
        self._require()
        flt = _manual_filter(manual_key) if manual_key else None
        return self.client.count(self.collection, count_filter=flt).count

    def _served(self) -> str:
        """The collection the alias names now."""
        for alias in self.client.get_aliases().aliases:
            if alias.alias_name == self.collection:
                return alias.collection_name
        raise IndexNotPublished(f"no collection behind the alias {self.collection!r}")

    def _version_of(self, collection: str) -> str | None:
        # The version `collection` holds stays put while it is served and one publication
        # after (the retired collection is left alone until the next one); a journal
        # written before collections were numbered names none.
        journal = _read_journal(self.client, self.collection) or {}
        version = _journal_versions(journal).get(collection)
        return None if version is None else str(version)

    def search(self, query: IndexQuery) -> Hits:
        self._require()
        if query.filters.matches_nothing:
            return Hits([], self._version)
        # The alias is resolved once: the hits and the version come from that collection.
        served = self._served()
        hits = self._search(served, query)
        return Hits(hits, self._version_of(served))

    def _search(self, collection: str, query: IndexQuery) -> list[Hit]:
        flt = _search_filter(query.filters)
        dense = query.dense.astype(np.float32).tolist()
        if query.sparse is None or not query.hybrid:
            result = self.client.query_points(
                collection,
                query=dense,
                using=DENSE,
                query_filter=flt,
                limit=query.top_k,
                with_payload=True,
            )
            return [Hit.from_payload(p.payload or {}, float(p.score)) for p in result.points]
        result = self.client.query_points(
            collection,
            prefetch=[
                models.Prefetch(query=dense, using=DENSE, filter=flt, limit=query.prefetch),
                models.Prefetch(
                    query=models.SparseVector(
                        indices=query.sparse.indices, values=query.sparse.values
                    ),
                    using=SPARSE,
                    filter=flt,
                    limit=query.prefetch,
                ),
            ],
            query=models.RrfQuery(rrf=models.Rrf(k=RRF_K)),
            limit=query.top_k,
            with_payload=True,
            with_vectors=[DENSE],
        )
        scores = cosines(query.dense, [named_vector(p.vector, DENSE) for p in result.points])
        return [
            Hit.from_payload(p.payload or {}, s) for p, s in zip(result.points, scores, strict=True)
        ]


def _manual_filter(manual_key: str) -> models.Filter:
    return models.Filter(
        must=[models.FieldCondition(key="manual_key", match=models.MatchValue(value=manual_key))]
    )


def _search_filter(filters: SearchFilters) -> models.Filter | None:
    must: list[models.Condition] = []
    for field_name, value in (("vendor_slug", filters.vendor), ("product_slug", filters.product)):
        if value:  # whole words in order: "AC-300" matches "PureAir AC-300 Air Purifier"
            must.append(
                models.FieldCondition(
                    key=field_name, match=models.MatchPhrase(phrase=slugify(value))
                )
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
        must.append(
            models.FieldCondition(key="visibility", match=models.MatchValue(value="public"))
        )
    if filters.use:
        must.append(
            models.FieldCondition(key="allowed_uses", match=models.MatchValue(value=filters.use))
        )
    must_not: list[models.Condition] = []
    if filters.withheld_manual_keys:
        must_not.append(
            models.FieldCondition(
                key="manual_key", match=models.MatchAny(any=list(filters.withheld_manual_keys))
            )
        )
    return models.Filter(must=must, must_not=must_not) if must or must_not else None
