"""The push path: partner webhooks verified and written durably to an inbox.

A delivery is a JSON body signed with the partner's secret (HMAC-SHA256 over
`<timestamp>.<body>`, headers `X-Timestamp` and `X-Signature`), with an
`Idempotency-Key`. It names a document and carries either a signed `url` to download
it from or the file itself (`content_base64`); or it withdraws one of the partner's
documents (`{"action": "withdraw", "document_id": ...}`). An accepted delivery is
written to the object store before it is acknowledged, under

    inbox/<partner>/pending/<item>/item.json    what the partner said
    inbox/<partner>/pending/<item>/content      the file, when it came inline
    inbox/<partner>/accepted/<item>.json        the idempotency record, written last

so nothing accepted is lost if the process stops, and a retried delivery is
recognised. `InboxConnector` offers the pending items to the harvest like any source,
a withdrawal as a manual the source no longer offers, and drops each once its outcome
is stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Annotated, Any, Final, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    Tag,
    ValidationError,
    model_validator,
)

from manualqa.config import LicenseDefaults, WebhookPartnerSettings
from manualqa.documents import ManualRef, slugify
from manualqa.governance import GovernanceError, with_license
from manualqa.objectstore import ObjectExistsError, ObjectStore, ObjectStoreError
from manualqa.sources import signing
from manualqa.sources.base import (
    Discovery,
    Fetched,
    FetchResult,
    SourceError,
    Validators,
    media_type_for,
    source_key,
)
from manualqa.sources.http import PoliteClient

ITEM_FILE = "item.json"
CONTENT_FILE = "content"
DELIVER: Final = "deliver"
WITHDRAW: Final = "withdraw"


class DeliveryRefused(Exception):
    """A delivery the inbox will not take; `status` is the HTTP status to answer."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadSignature(DeliveryRefused):
    status = 401


class Replayed(DeliveryRefused):
    status = 409


class TooLarge(DeliveryRefused):
    status = 413


class BadPayload(DeliveryRefused):
    status = 422


class LicenseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    terms: str | None = None
    allowed_uses: list[str] | None = None
    expires_at: str | None = None


def _usable_id(value: str) -> str:
    if not slugify(value):
        raise ValueError("document_id needs at least one letter or digit")
    return value


# A partner's id for one document: it names the manual's key (`source_key`).
DocumentId = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_usable_id)]


class DocumentInfo(BaseModel):
    """What a delivery says about its document."""

    model_config = ConfigDict(extra="forbid")

    document_id: DocumentId
    file_name: str = Field(min_length=1, max_length=300)
    media_type: str | None = None
    title: str | None = None
    vendor: str | None = None
    product: str | None = None
    is_public: bool = True
    license: LicenseIn | None = None
    url: str | None = Field(None, pattern=r"^https?://")


class WebhookDocument(DocumentInfo):
    """The body of a delivery: the document and its payload, a signed URL or the file."""

    action: Literal["deliver"] = DELIVER
    content_base64: str | None = None

    @model_validator(mode="after")
    def _one_payload(self) -> WebhookDocument:
        if (self.url is None) == (self.content_base64 is None):
            raise ValueError("give exactly one of url and content_base64")
        return self


class WebhookWithdrawal(BaseModel):
    """The body of a withdrawal: the partner no longer offers this document."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["withdraw"]
    document_id: DocumentId


def _action(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("action", DELIVER))
    return str(getattr(body, "action", DELIVER))


WebhookPayload = Annotated[
    Annotated[WebhookDocument, Tag(DELIVER)] | Annotated[WebhookWithdrawal, Tag(WITHDRAW)],
    Discriminator(_action),
]


class WebhookBody(RootModel[WebhookPayload]):
    """A push: a delivery, or a withdrawal (`"action": "withdraw"`)."""


@dataclass(frozen=True)
class InboxItem:
    """An accepted delivery waiting in the inbox."""

    partner: str
    item_id: str
    idempotency_key: str
    received_at: str
    # A delivery's DocumentInfo without the inline file; a withdrawal's `document_id`.
    document: dict[str, Any]
    content_key: str | None
    action: str = DELIVER  # or WITHDRAW

    @property
    def key(self) -> str:
        return f"inbox/{self.partner}/pending/{self.item_id}/{ITEM_FILE}"


def item_id(partner: str, idempotency_key: str) -> str:
    return hashlib.sha256(f"{partner}\x1f{idempotency_key}".encode()).hexdigest()[:32]


def pending_keys(store: ObjectStore, partner: str) -> list[str]:
    """The object keys of `partner`'s deliveries waiting in the inbox, sorted; reads no
    delivery and needs no secret (a sensor polls it)."""
    return sorted(
        key for key in store.list(f"inbox/{partner}/pending") if key.endswith("/" + ITEM_FILE)
    )


class Inbox:
    """Verifies and stores one partner's deliveries."""

    def __init__(
        self,
        store: ObjectStore,
        partner: str,
        settings: WebhookPartnerSettings,
        secret: bytes,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError(f"partner {partner} has an empty webhook secret")
        self.store = store
        self.partner = partner
        self.settings = settings
        self.secret = secret
        self.clock = clock

    def verify(self, timestamp: str | None, signature: str | None, body: bytes) -> None:
        """Check the signature, then the replay window.

        Raises:
            BadSignature: a header is missing or the signature does not match.
            Replayed: the timestamp is outside the replay window.
        """
        if not timestamp or not signature:
            raise BadSignature("X-Timestamp and X-Signature headers are required")
        if not signing.verify(self.secret, timestamp, body, signature):
            raise BadSignature("the signature does not match the body and timestamp")
        try:
            sent = float(timestamp)
        except ValueError:
            raise BadSignature("X-Timestamp must be Unix seconds") from None
        if abs(self.clock() - sent) > self.settings.replay_window_s:
            raise Replayed(
                f"the timestamp is outside the {self.settings.replay_window_s}s replay window"
            )

    def accept(self, idempotency_key: str | None, body: bytes) -> InboxItem:
        """Store a verified delivery durably and return it.

        Raises:
            BadPayload: no idempotency key, or a body that is neither a valid document
                nor a valid withdrawal.
            Replayed: this idempotency key was accepted before.
        """
        if not idempotency_key or len(idempotency_key) > 200:
            raise BadPayload("an Idempotency-Key header (at most 200 characters) is required")
        try:
            document = WebhookBody.model_validate_json(body).root
        except ValidationError as exc:
            raise BadPayload(f"the body is not a valid delivery: {exc.errors()[:3]}") from None
        ident = item_id(self.partner, idempotency_key)
        marker = f"inbox/{self.partner}/accepted/{ident}.json"
        if self.store.exists(marker):
            raise Replayed(f"Idempotency-Key {idempotency_key!r} was already accepted")
        pending = f"inbox/{self.partner}/pending/{ident}"
        content_key = None
        if isinstance(document, WebhookDocument) and document.content_base64 is not None:
            try:
                content = base64.b64decode(document.content_base64, validate=True)
            except (binascii.Error, ValueError):
                raise BadPayload("content_base64 is not valid base64") from None
            content_key = f"{pending}/{CONTENT_FILE}"
            self._write_once(content_key, content, idempotency_key)
        item = InboxItem(
            partner=self.partner,
            item_id=ident,
            idempotency_key=idempotency_key,
            received_at=datetime.fromtimestamp(self.clock(), UTC).isoformat(),
            document=document.model_dump(exclude={"action", "content_base64"}),
            content_key=content_key,
            action=document.action,
        )
        record = json.dumps(item.__dict__, sort_keys=True).encode()
        self.store.put(item.key, record)
        try:
            self.store.put_new(marker, record)
        except ObjectExistsError:
            raise Replayed(f"Idempotency-Key {idempotency_key!r} was already accepted") from None
        return item

    def _write_once(self, key: str, data: bytes, idempotency_key: str) -> None:
        try:
            self.store.put_immutable(key, data)
        except ObjectStoreError:
            raise Replayed(
                f"Idempotency-Key {idempotency_key!r} was used before with another file"
            ) from None

    def pending(self) -> list[InboxItem]:
        """The accepted items not yet settled, oldest first."""
        items = [
            InboxItem(**json.loads(self.store.get(key)))
            for key in pending_keys(self.store, self.partner)
        ]
        return sorted(items, key=lambda item: (item.received_at, item.item_id))

    def settle(self, item: InboxItem) -> None:
        """Drop a stored item from the pending list (its idempotency record stays)."""
        if item.content_key is not None:
            self.store.delete(item.content_key)
        self.store.delete(item.key)


class InboxConnector:
    """A webhook partner's pending deliveries, offered as a source."""

    def __init__(
        self,
        name: str,
        namespace: str,
        settings: WebhookPartnerSettings,
        inbox: Inbox,
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.settings = settings
        self.inbox = inbox
        self._client: PoliteClient | None = None
        self._items: dict[str, InboxItem] = {}
        # Items settled with another: a withdrawal and the deliveries before it (by manual
        # key), or a withdrawal and what it overrode, followed by a delivery (by its uri).
        self._withdrawals: dict[str, list[InboxItem]] = {}
        self._overridden: dict[str, list[InboxItem]] = {}

    def __enter__(self) -> Self:
        self._client = PoliteClient(self.settings.http)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None

    def discover(self, cursor: str | None = None) -> Discovery:
        """Every pending delivery, and every pending withdrawal as a manual gone; the
        inbox empties as items settle, so no cursor. The partner's latest word on a
        manual wins: a withdrawal overrides the deliveries of it before, and deliveries
        after a withdrawal override it. A withdrawal names a document in this partner's
        namespace, so a partner can withdraw only its own manuals."""
        by_key: dict[str, list[InboxItem]] = {}
        for item in self.inbox.pending():
            key = source_key(self.namespace, str(item.document["document_id"]))
            by_key.setdefault(key, []).append(item)
        refs = []
        for key, items in by_key.items():
            last = max((n for n, i in enumerate(items) if i.action == WITHDRAW), default=-1)
            overridden, offered = items[: last + 1], items[last + 1 :]
            if not offered:
                self._withdrawals[key] = overridden
                continue
            offered_refs = [self._ref(item) for item in offered]
            for ref, item in zip(offered_refs, offered, strict=True):
                self._items[ref.uri] = item
            if overridden:  # dropped once the first delivery after them is stored
                self._overridden[offered_refs[0].uri] = overridden
            refs.extend(offered_refs)
        return Discovery(refs=refs, cursor=None, gone=sorted(self._withdrawals))

    def _ref(self, item: InboxItem) -> ManualRef:
        doc = DocumentInfo.model_validate(item.document)
        product = doc.product or doc.document_id
        ref = ManualRef(
            key=source_key(self.namespace, doc.document_id),
            uri=item.key,
            file_name=doc.file_name,
            media_type=doc.media_type
            or media_type_for(doc.file_name)
            or "application/octet-stream",
            vendor=doc.vendor or self.settings.default_vendor,
            product=product,
            title=doc.title or product,
            license=self.settings.license.name,
            source=self.name,
            is_public=doc.is_public,
            version_token=item.item_id,
        )
        given = doc.license or LicenseIn()
        try:
            return with_license(
                ref,
                self.settings.license or LicenseDefaults(),
                name=given.name,
                terms=given.terms,
                allowed_uses=given.allowed_uses,
                expires_at=given.expires_at,
            )
        except GovernanceError as exc:
            raise SourceError(f"delivery {item.item_id} of {self.name}: {exc}") from exc

    def _item(self, ref: ManualRef) -> InboxItem:
        item = self._items.get(ref.uri)
        if item is None:
            raise SourceError(f"{ref.uri} is not a pending delivery of {self.name}")
        return item

    def fetch(self, ref: ManualRef, held: Validators | None = None) -> FetchResult:
        item = self._item(ref)
        if item.content_key is not None:
            return Fetched(ref, self.inbox.store.get(item.content_key), Validators())
        if self._client is None:
            raise SourceError(f"source {self.name} is not open; use it in a `with` block")
        url = str(item.document["url"])
        response = self._client.request("GET", url)
        if response.status != 200:
            raise SourceError(
                f"the signed URL of delivery {item.item_id} answered {response.status}"
            )
        return Fetched(ref, response.content, Validators(etag=response.headers.get("etag")))

    def settled(self, refs: Sequence[ManualRef], withdrawn: Sequence[str]) -> None:
        """The harvest stored these deliveries' outcomes and these withdrawals: drop
        them from the inbox."""
        for ref in refs:
            self.inbox.settle(self._item(ref))
            del self._items[ref.uri]
            for item in self._overridden.pop(ref.uri, []):
                self.inbox.settle(item)
        for key in withdrawn:
            for item in self._withdrawals.pop(key, []):
                self.inbox.settle(item)
