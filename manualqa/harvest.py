"""One run over one source: discover, fetch what changed, validate, dedup, store.

`harvest` is the library half of a crawl or API run. For each manual the source
offers it decides one outcome (excluded, unchanged, failed, quarantined, duplicate,
new, changed), notes the manuals held from it that the source no longer offers
(`gone`: to be removed), and keeps every byte it fetched: accepted and duplicate bytes under
`raw/`, refused bytes under `quarantine/`, both immutable and content-addressed with
their source URL, license manifest, config version, fetch time and hash. The result
carries the counts for the run's `crawl_jobs` row and the keys whose downstream
assets must run; `sql.catalog.record_harvest` writes it to the catalog.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

from manualqa.config import DedupSettings, ValidationSettings
from manualqa.dedup import NearDuplicateIndex, signature
from manualqa.documents import ManualRef, content_hash
from manualqa.governance import ExclusionList
from manualqa.objectstore import ObjectStore, quarantine_key, raw_key
from manualqa.sources.base import Connector, Fetched, SourceError, Validators, discover_all
from manualqa.validation import Verdict, validate

log = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    EXCLUDED = "excluded"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"
    NEW = "new"
    CHANGED = "changed"


@dataclass(frozen=True)
class HeldCopy:
    """What the catalog holds of a manual: its bytes' hash and their validators."""

    content_hash: str
    validators: Validators


@dataclass(frozen=True)
class HarvestItem:
    """The outcome for one manual the source offered."""

    ref: ManualRef
    outcome: Outcome
    reason: str = ""
    object_key: str | None = None
    content_hash: str | None = None
    size_bytes: int = 0
    validators: Validators = field(default_factory=Validators)
    signature: list[int] = field(default_factory=list)
    duplicate_of: str | None = None
    similarity: float | None = None
    check: dict[str, object] = field(default_factory=dict)  # validation summary

    @property
    def key(self) -> str:
        return self.ref.key


@dataclass
class HarvestResult:
    """Everything one run found, and where its cursor now stands."""

    source: str
    config_version: str
    cursor: str | None
    started_at: datetime
    items: list[HarvestItem] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # held manuals the source no longer offers
    withdrawn: list[str] = field(default_factory=list)  # every manual the source withdrew
    error: str | None = None  # discovery itself failed

    def counts(self) -> dict[str, int]:
        """discovered, fetched, one count per outcome (`duplicates` for duplicate), gone."""
        tally = Counter(item.outcome.value for item in self.items)
        fetched = sum(
            1 for item in self.items if item.content_hash is not None or item.outcome == "failed"
        )
        counts = {"discovered": len(self.items), "fetched": fetched}
        counts.update({outcome.value: tally.get(outcome.value, 0) for outcome in Outcome})
        counts["duplicates"] = counts.pop(Outcome.DUPLICATE.value)
        counts["gone"] = len(self.gone)
        return counts

    @property
    def to_materialize(self) -> list[str]:
        """Keys whose downstream assets must run: new or changed accepted bytes."""
        return [i.key for i in self.items if i.outcome in (Outcome.NEW, Outcome.CHANGED)]


def harvest(
    connector: Connector,
    store: ObjectStore,
    *,
    cursor: str | None,
    held: Mapping[str, HeldCopy],
    validation: ValidationSettings,
    dedup: DedupSettings,
    duplicates: NearDuplicateIndex,
    exclusions: ExclusionList,
    config_version: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> HarvestResult:
    """Run `connector` once (it must be open) from `cursor`.

    `held` maps keys to the copies the catalog holds (for conditional requests);
    `duplicates` holds the signatures of the manuals already kept and learns the new
    ones. A failure for one manual is recorded and the run goes on; a discovery that
    fails ends the run with `error` set, the cursor unchanged and nothing gone. Once the
    result is recorded, `settle` it.
    """
    version = getattr(connector, "config_version", "") or config_version
    result = HarvestResult(connector.name, version, cursor, clock())
    try:
        listing = discover_all(connector, cursor)
    except SourceError as exc:
        log.error("source %s: discovery failed: %s", connector.name, exc)
        result.error = str(exc)
        return result
    result.cursor = listing.cursor
    result.gone = listing.gone_of(held)
    result.withdrawn = sorted(set(listing.gone))
    for ref in listing.refs:
        item = _one(
            connector,
            store,
            ref,
            held.get(ref.key),
            validation,
            dedup,
            duplicates,
            exclusions,
            version,
            clock,
        )
        result.items.append(item)
    return result


def settle(connector: Connector, result: HarvestResult) -> None:
    """Tell the source (still open) that `result` is stored durably: a push source drops
    every delivery but the failed ones, and every withdrawal, from its inbox. Call it only
    after the catalog has recorded `result`, so a crash in between leaves the deliveries
    to the next run."""
    stored = [item.ref for item in result.items if item.outcome != Outcome.FAILED]
    connector.settled(stored, result.withdrawn)


def _one(
    connector: Connector,
    store: ObjectStore,
    ref: ManualRef,
    held: HeldCopy | None,
    validation: ValidationSettings,
    dedup: DedupSettings,
    duplicates: NearDuplicateIndex,
    exclusions: ExclusionList,
    config_version: str,
    clock: Callable[[], datetime],
) -> HarvestItem:
    excluded = exclusions.reason_to_exclude(ref)
    if excluded:
        return HarvestItem(ref, Outcome.EXCLUDED, excluded)
    try:
        fetched = connector.fetch(ref, held.validators if held is not None else None)
    except SourceError as exc:
        log.warning("source %s: %s failed: %s", connector.name, ref.key, exc)
        return HarvestItem(ref, Outcome.FAILED, str(exc))
    if not isinstance(fetched, Fetched):
        return HarvestItem(ref, Outcome.UNCHANGED, fetched.reason, validators=fetched.validators)
    data = fetched.data
    sha = content_hash(data)
    base = HarvestItem(
        ref,
        Outcome.UNCHANGED,
        "same bytes",
        content_hash=sha,
        size_bytes=len(data),
        validators=fetched.validators,
    )
    if held is not None and held.content_hash == sha:
        return base
    metadata = document_metadata(
        ref,
        sha,
        len(data),
        config_version=config_version,
        fetched_at=clock().isoformat(),
        validators=fetched.validators,
    )
    verdict = validate(data, ref, validation)
    if not verdict.ok:
        return replace(
            base,
            outcome=Outcome.QUARANTINED,
            reason=f"{verdict.code}: {verdict.reason}",
            object_key=keep_refused(store, ref, data, verdict, metadata),
            check=verdict.summary,
        )
    sig = signature(verdict.facts.text, dedup)
    key = raw_key(ref.key, sha, ref.file_name)
    store.put_immutable(key, data, metadata)
    match = duplicates.keep_or_match(ref.key, sig)
    if match is not None:
        original, score = match
        return replace(
            base,
            outcome=Outcome.DUPLICATE,
            reason=f"{score:.2f} similar to {original}",
            object_key=key,
            signature=sig,
            duplicate_of=original,
            similarity=score,
            check=verdict.summary,
        )
    return replace(
        base,
        outcome=Outcome.NEW if held is None else Outcome.CHANGED,
        reason="",
        object_key=key,
        signature=sig,
        check=verdict.summary,
    )


def document_metadata(
    ref: ManualRef,
    sha: str,
    size_bytes: int,
    *,
    config_version: str,
    fetched_at: str,
    validators: Validators | None = None,
) -> dict[str, object]:
    """What is stored beside a document's bytes: hash, source URL, license manifest,
    config version, fetch time, validators and the ref (`artifacts.load_raw` reads it)."""
    return {
        "sha256": sha,
        "size_bytes": size_bytes,
        "source": ref.source,
        "source_url": ref.uri,
        "license": {
            "name": ref.license,
            "terms": ref.license_terms,
            "allowed_uses": list(ref.allowed_uses),
            "expires_at": ref.license_expires_at,
        },
        "config_version": config_version,
        "fetched_at": fetched_at,
        "validators": asdict(validators or Validators()),
        "ref": asdict(ref),
    }


def keep_refused(
    store: ObjectStore, ref: ManualRef, data: bytes, verdict: Verdict, metadata: dict[str, object]
) -> str:
    """Keep refused bytes, immutably, under `quarantine/` with the reason; returns the key."""
    key = quarantine_key(ref.key, content_hash(data), ref.file_name)
    store.put_immutable(
        key, data, {**metadata, "reason_code": verdict.code, "reason": verdict.reason}
    )
    return key
