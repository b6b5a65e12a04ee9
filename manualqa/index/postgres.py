"""PostgreSQL as the index: pgvector HNSW for dense search, a `tsvector` GIN index for
full-text search, fused by reciprocal rank in one SQL statement.

The tables belong to the index, like a Qdrant collection, so the writer creates them
with the configured dimension: `<collection>_points` and `<collection>_publication`
(one row: the published version, the embedding model and dimension). A publication
replaces one manual's rows and bumps the version in one transaction, so readers see the
manual's old rows or its new ones, and it costs the rows of that manual only.
"""

from __future__ import annotations

import json
import logging
import re

import numpy as np
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import Connection

from manualqa.chunking import embedding_text
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
)

log = logging.getLogger(__name__)

TEXT_CONFIG = "english"
EF_SEARCH = 100  # HNSW candidates per search; iterative scans refill filtered-out ones
_IDENTIFIER_RE = re.compile(r"[a-z_][a-z0-9_]{0,39}")


class PostgresIndex:
    """The PostgreSQL backend on the database at `url`."""

    def __init__(self, url: str, collection: str, space: EmbeddingSpace) -> None:
        # Table names are built from the collection name: it must be a plain identifier
        # (every value in a statement is a bound parameter).
        if not _IDENTIFIER_RE.fullmatch(collection):
            raise ValueError(
                f"index.collection {collection!r} must be a lower-case SQL identifier "
                "(letters, digits and _, at most 40)"
            )
        self.url = url
        self.collection = collection
        self.space = space

    def _engine(self) -> Engine:
        return create_engine(self.url, pool_pre_ping=True, pool_size=8, max_overflow=8)

    def writer(self) -> PostgresWriter:
        return PostgresWriter(self._engine(), self.collection, self.space)

    def reader(self) -> PostgresReader:
        reader = PostgresReader(self._engine(), self.collection)
        reader.refresh()
        return reader


class PostgresWriter:
    def __init__(self, engine: Engine, collection: str, space: EmbeddingSpace) -> None:
        self.engine = engine
        self.points = f"{collection}_points"
        self.publication = f"{collection}_publication"
        self.space = space
        self.dimension = space.dimension

    def close(self) -> None:
        self.engine.dispose()

    def replace_manual(self, manual_key: str, points: list[IndexPoint]) -> PublishResult:
        check_points(manual_key, points, self.dimension)
        self._ensure_tables()
        with self.engine.begin() as conn:
            version: int = conn.execute(
                text(f"SELECT version FROM {self.publication} WHERE id = 1 FOR UPDATE")
            ).scalar_one()  # the row lock queues concurrent writers
            removed = conn.execute(
                text(f"DELETE FROM {self.points} WHERE manual_key = :k"), {"k": manual_key}
            ).rowcount
            if points:
                conn.execute(
                    text(
                        f"INSERT INTO {self.points} (point_id, manual_key, payload, dense, doc, "
                        "vendor_slug, product_slug, visibility, allowed_uses) VALUES (:id, :k, "
                        "CAST(:payload AS jsonb), CAST(:dense AS vector), "
                        f"to_tsvector('{TEXT_CONFIG}', :doc), :vendor, :product, :visibility, "
                        ":uses)"
                    ),
                    [_row(p) for p in points],
                )
            version += 1
            conn.execute(
                text(f"UPDATE {self.publication} SET version = :v WHERE id = 1"), {"v": version}
            )
            total: int = conn.execute(text(f"SELECT count(*) FROM {self.points}")).scalar_one()
        return PublishResult(str(version), len(points), int(total), removed=int(removed))

    def delete_manual(self, manual_key: str) -> PublishResult:
        return self.replace_manual(manual_key, [])

    def _ensure_tables(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": self.points})
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            conn.execute(
                text(
                    f"CREATE TABLE IF NOT EXISTS {self.publication} (id int PRIMARY KEY "
                    "CHECK (id = 1), version bigint NOT NULL, dimension int NOT NULL, "
                    "model text)"
                )
            )
            # A publication table from before the model was recorded gains the column
            # empty, and is refused below until it is rebuilt.
            conn.execute(
                text(f"ALTER TABLE {self.publication} ADD COLUMN IF NOT EXISTS model text")
            )
            conn.execute(
                text(
                    f"INSERT INTO {self.publication} (id, version, dimension, model) "
                    "VALUES (1, 0, :d, :m) ON CONFLICT DO NOTHING"
                ),
                {"d": self.dimension, "m": self.space.model},
            )
            stored = _recorded_space(conn, self.publication)
            check_embedding(stored, self.space, f"the index {self.points}")
            conn.execute(
                text(
                    f"CREATE TABLE IF NOT EXISTS {self.points} (point_id uuid PRIMARY KEY, "
                    "manual_key text NOT NULL, payload jsonb NOT NULL, "
                    f"dense vector({self.dimension}) NOT NULL, doc tsvector NOT NULL, "
                    "vendor_slug text NOT NULL, product_slug text NOT NULL, "
                    "visibility text NOT NULL, allowed_uses text[] NOT NULL)"
                )
            )
            for name, definition in (
                ("dense", "USING hnsw (dense vector_cosine_ops)"),
                ("doc", "USING gin (doc)"),
                ("manual", "(manual_key)"),
            ):
                index = f"{self.points}_{name}"
                conn.execute(
                    text(f"CREATE INDEX IF NOT EXISTS {index} ON {self.points} {definition}")
                )


def _vector(values: np.ndarray) -> str:
    return "[" + ",".join(f"{float(v):.8g}" for v in values) + "]"


def _row(p: IndexPoint) -> dict[str, object]:
    payload = p.payload()
    return {
        "id": p.point_id,
        "k": p.chunk.manual_key,
        "payload": json.dumps(payload),
        "dense": _vector(p.dense),
        "doc": embedding_text(p.chunk, p.ref.title),
        "vendor": payload["vendor_slug"],
        "product": payload["product_slug"],
        "visibility": payload["visibility"],
        "uses": list(p.ref.allowed_uses),
    }


def _recorded_space(conn: Connection, publication: str) -> EmbeddingSpace:
    row = conn.execute(text(f"SELECT dimension, model FROM {publication} WHERE id = 1")).one()
    return EmbeddingSpace(row.model, int(row.dimension))


class PostgresReader:
    """Searches the published rows; every statement sees one committed version."""

    def __init__(self, engine: Engine, collection: str) -> None:
        self.engine = engine
        self.points = f"{collection}_points"
        self.publication = f"{collection}_publication"
        self._version: str | None = None

    @property
    def version(self) -> str | None:
        return self._version

    def refresh(self) -> bool:
        with self.engine.connect() as conn:
            exists: bool = conn.execute(
                text("SELECT to_regclass(:t) IS NOT NULL"), {"t": self.publication}
            ).scalar_one()
            version = (
                conn.execute(text(f"SELECT version FROM {self.publication} WHERE id = 1")).scalar()
                if exists
                else None
            )
        new = str(version) if version else None
        switched = new != self._version
        self._version = new
        return switched and new is not None

    def embedding(self) -> EmbeddingSpace | None:
        if self._version is None:
            self.refresh()
        if self._version is None:
            return None
        with self.engine.connect() as conn:
            return _recorded_space(conn, self.publication)

    def close(self) -> None:
        self.engine.dispose()

    def _require(self) -> None:
        if self._version is None:
            self.refresh()
        if self._version is None:
            raise IndexNotPublished(f"no index published in {self.points}; materialize the assets")

    def count(self, manual_key: str | None = None) -> int:
        self._require()
        where, params = ("WHERE manual_key = :k", {"k": manual_key}) if manual_key else ("", {})
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    text(f"SELECT count(*) FROM {self.points} {where}"), params
                ).scalar_one()
            )

    def search(self, query: IndexQuery) -> Hits:
        self._require()
        if query.filters.matches_nothing:
            return Hits([], self._version)
        where, params = _where(query.filters)
        params |= {"q": _vector(query.dense), "top_k": query.top_k}
        if query.hybrid and query.text.strip():
            statement = self._hybrid(where)
            params |= {"depth": query.prefetch, "text": query.text, "rrf_k": RRF_K}
        else:
            statement = (
                f"SELECT payload, 1 - (dense <=> CAST(:q AS vector)) AS cosine FROM {self.points} "
                f"WHERE {where} ORDER BY dense <=> CAST(:q AS vector) LIMIT :top_k"
            )
        with self.engine.begin() as conn:
            # One snapshot for the rows and the version: a publication commits both at once.
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            _tune(conn)
            rows = conn.execute(text(statement), params).all()
            version: int = conn.execute(
                text(f"SELECT version FROM {self.publication} WHERE id = 1")
            ).scalar_one()
        return Hits(
            (Hit.from_payload(dict(r.payload), float(r.cosine)) for r in rows), str(version)
        )

    def _hybrid(self, where: str) -> str:
        # Any query word may match (plainto_tsquery ANDs them); ranks fused like Qdrant's
        # RRF: 1 / (rank - 1 + k) summed over the dense and the full-text list.
        tsquery = (
            f"CAST(NULLIF(replace(CAST(plainto_tsquery('{TEXT_CONFIG}', :text) AS text), "
            "'&', '|'), '') AS tsquery)"
        )
        return f"""
            WITH dense AS (
                SELECT point_id, row_number() OVER (ORDER BY distance) AS rank FROM (
                    SELECT point_id, dense <=> CAST(:q AS vector) AS distance
                    FROM {self.points} WHERE {where} ORDER BY distance LIMIT :depth
                ) d
            ), words AS (
                SELECT point_id, row_number() OVER (ORDER BY score DESC, point_id) AS rank
                FROM (
                    SELECT point_id, ts_rank(doc, query) AS score
                    FROM {self.points}, {tsquery} AS query
                    WHERE doc @@ query AND {where}
                    ORDER BY score DESC, point_id LIMIT :depth
                ) w
            ), fused AS (
                SELECT point_id, sum(1.0 / (rank - 1 + :rrf_k)) AS score
                FROM (SELECT * FROM dense UNION ALL SELECT * FROM words) ranked
                GROUP BY point_id
            )
            SELECT p.payload, 1 - (p.dense <=> CAST(:q AS vector)) AS cosine
            FROM fused JOIN {self.points} p USING (point_id)
            ORDER BY fused.score DESC, cosine DESC LIMIT :top_k
        """


def _tune(conn: Connection) -> None:
    conn.execute(text(f"SET LOCAL hnsw.ef_search = {EF_SEARCH}"))
    conn.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))


def _where(filters: SearchFilters) -> tuple[str, dict[str, object]]:
    clauses: list[str] = ["true"]
    params: dict[str, object] = {}
    for column, value in (("vendor_slug", filters.vendor), ("product_slug", filters.product)):
        if value:  # whole words in order: "AC-300" matches "pureair-ac-300-air-purifier"
            clauses.append(f"('-' || {column} || '-') LIKE :{column}")
            params[column] = f"%-{slugify(value)}-%"
    if filters.manual_key:
        clauses.append("manual_key = :manual_key")
        params["manual_key"] = filters.manual_key
    if filters.manual_keys is not None:
        clauses.append("manual_key = ANY(:manual_keys)")
        params["manual_keys"] = list(filters.manual_keys)
    if filters.public_only:
        clauses.append("visibility = 'public'")
    if filters.use:
        clauses.append(":use = ANY(allowed_uses)")
        params["use"] = filters.use
    if filters.withheld_manual_keys:
        clauses.append("manual_key <> ALL(:withheld)")
        params["withheld"] = list(filters.withheld_manual_keys)
    return " AND ".join(clauses), params
