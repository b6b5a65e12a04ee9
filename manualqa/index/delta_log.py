"""Published index changes as an append-only log of immutable files.

The writer (an asset run) never opens the served index: it appends one file per
change, `changes/<seq>.npz` holding one manual's new points, and then moves the
pointer `CURRENT` (an atomic rename) to that sequence number. Each reader applies
the changes it has not seen to its own in-process index. Publishing therefore costs
the size of the manual that changed, not of the whole collection.

Replaced points stay in the log until a compaction folds every live point into one
`base` change (when the log holds more than twice the live points); readers behind a
base rebuild from it, and files older than the previous base are deleted.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import fasteners
import numpy as np

from manualqa.index.base import (
    EmbeddingSpace,
    IndexPoint,
    PublishResult,
    check_embedding,
    check_points,
)

log = logging.getLogger(__name__)

POINTER = "CURRENT"
COMPACT_MIN_POINTS = 10_000  # below this many dead points, compaction is not worth it


@dataclass(frozen=True)
class PointBatch:
    """Points in column form: what a change file stores and a reader inserts."""

    ids: list[str]
    dense: np.ndarray  # (n, dimension) float32
    sparse_indices: list[list[int]]
    sparse_values: list[list[float]]
    payloads: list[dict[str, object]]

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def of(cls, points: list[IndexPoint], dimension: int) -> PointBatch:
        dense = np.zeros((len(points), dimension), dtype=np.float32)
        for row, p in enumerate(points):
            dense[row] = p.dense
        return cls(
            ids=[p.point_id for p in points],
            dense=dense,
            sparse_indices=[list(p.sparse.indices) for p in points],
            sparse_values=[list(p.sparse.values) for p in points],
            payloads=[p.payload() for p in points],
        )

    @classmethod
    def concat(cls, batches: list[PointBatch], dimension: int) -> PointBatch:
        return cls(
            ids=[i for b in batches for i in b.ids],
            dense=np.concatenate([b.dense for b in batches])
            if batches
            else np.zeros((0, dimension), dtype=np.float32),
            sparse_indices=[i for b in batches for i in b.sparse_indices],
            sparse_values=[v for b in batches for v in b.sparse_values],
            payloads=[p for b in batches for p in b.payloads],
        )


@dataclass(frozen=True)
class Change:
    """One published change: `manual_key`'s points become `points`; a base change
    (manual_key None) replaces the whole index."""

    seq: int
    manual_key: str | None
    points: PointBatch


@dataclass
class LogState:
    """What `CURRENT` says: the newest change, the newest base and the live counts."""

    seq: int
    base: int
    dimension: int
    points: dict[str, int] = field(default_factory=dict)  # live points per manual
    logged: int = 0  # points written since the base, replaced ones included
    model: str | None = None  # the embedding model (None: a log from before it was recorded)

    @property
    def total(self) -> int:
        return sum(self.points.values())

    @property
    def space(self) -> EmbeddingSpace:
        return EmbeddingSpace(self.model, self.dimension)


class DeltaLog:
    """The change log under `root`; writers are serialised across processes."""

    def __init__(self, root: Path, space: EmbeddingSpace) -> None:
        self.root = root
        self.space = space
        self.dimension = space.dimension

    @property
    def _changes(self) -> Path:
        return self.root / "changes"

    def state(self) -> LogState | None:
        """The published state, or None before the first publication."""
        try:
            raw = json.loads((self.root / POINTER).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return LogState(**raw)

    def publish(self, manual_key: str, points: list[IndexPoint]) -> PublishResult:
        """Append `manual_key`'s new points as one change and move `CURRENT` to it."""
        check_points(manual_key, points, self.dimension)
        self._changes.mkdir(parents=True, exist_ok=True)
        with fasteners.InterProcessLock(str(self.root / ".write.lock")):
            state = self.state() or LogState(
                seq=0, base=0, dimension=self.dimension, model=self.space.model
            )
            check_embedding(state.space, self.space, f"the index under {self.root}")
            batch = PointBatch.of(points, self.dimension)
            state.seq += 1
            size = self._write(Change(state.seq, manual_key, batch))
            removed = state.points.pop(manual_key, 0)
            if points:
                state.points[manual_key] = len(points)
            state.logged += len(points)
            self._move_pointer(state)
            if state.logged - state.total > max(state.total, COMPACT_MIN_POINTS):
                self._compact(state)
        log.info("published index change %d: %s, %d points", state.seq, manual_key, len(points))
        return PublishResult(
            version=str(state.seq),
            manual_points=len(points),
            total_points=state.total,
            published_bytes=size,
            removed=removed,
        )

    def changes(self, after: int, upto: int) -> Iterator[Change]:
        """The changes `after` < seq <= `upto`, oldest first."""
        for seq in range(after + 1, upto + 1):
            yield self._read(seq)

    def _path(self, seq: int) -> Path:
        return self._changes / f"{seq:012d}.npz"

    def _write(self, change: Change) -> int:
        b = change.points
        offsets = np.cumsum([0] + [len(i) for i in b.sparse_indices], dtype=np.int64)
        meta = {"manual_key": change.manual_key, "ids": b.ids, "payloads": b.payloads}
        target = self._path(change.seq)
        tmp = target.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            np.savez(
                fh,
                dense=b.dense,
                sparse_offsets=offsets,
                sparse_indices=np.asarray(
                    [i for row in b.sparse_indices for i in row], dtype=np.int64
                ),
                sparse_values=np.asarray(
                    [v for row in b.sparse_values for v in row], dtype=np.float32
                ),
                meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
            )
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        return target.stat().st_size

    def _read(self, seq: int) -> Change:
        with np.load(self._path(seq), allow_pickle=False) as data:
            meta = json.loads(data["meta"].tobytes().decode("utf-8"))
            offsets = data["sparse_offsets"].tolist()
            indices = data["sparse_indices"].tolist()
            values = data["sparse_values"].tolist()
            dense = np.asarray(data["dense"], dtype=np.float32)
        rows = range(len(meta["ids"]))
        batch = PointBatch(
            ids=meta["ids"],
            dense=dense,
            sparse_indices=[indices[offsets[r] : offsets[r + 1]] for r in rows],
            sparse_values=[values[offsets[r] : offsets[r + 1]] for r in rows],
            payloads=meta["payloads"],
        )
        return Change(seq, meta["manual_key"], batch)

    def _move_pointer(self, state: LogState) -> None:
        tmp = self.root / f".{POINTER}.{state.seq}.tmp"
        tmp.write_text(json.dumps(state.__dict__), encoding="utf-8")
        os.replace(tmp, self.root / POINTER)

    def _compact(self, state: LogState) -> None:
        """Fold the live points into one base change; drop files before the old base."""
        live: dict[str, PointBatch] = {}
        for change in self.changes(state.base - 1 if state.base else 0, state.seq):
            if change.manual_key is None:
                live = _split_by_manual(change.points)
            elif len(change.points):
                live[change.manual_key] = change.points
            else:
                live.pop(change.manual_key, None)
        previous_base = state.base
        state.seq += 1
        state.base = state.seq
        batch = PointBatch.concat([live[k] for k in sorted(live)], self.dimension)
        self._write(Change(state.seq, None, batch))
        state.logged = len(batch)
        self._move_pointer(state)
        for old in self._changes.glob("*.npz"):
            if int(old.stem) < previous_base:
                old.unlink(missing_ok=True)
        log.info("compacted the index log into base %d (%d points)", state.base, len(batch))


def _split_by_manual(batch: PointBatch) -> dict[str, PointBatch]:
    rows: dict[str, list[int]] = {}
    for row, payload in enumerate(batch.payloads):
        rows.setdefault(str(payload["manual_key"]), []).append(row)
    return {
        key: PointBatch(
            ids=[batch.ids[r] for r in rs],
            dense=batch.dense[rs],
            sparse_indices=[batch.sparse_indices[r] for r in rs],
            sparse_values=[batch.sparse_values[r] for r in rs],
            payloads=[batch.payloads[r] for r in rs],
        )
        for key, rs in rows.items()
    }
