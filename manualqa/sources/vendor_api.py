"""A vendor or partner document API: OAuth2 client credentials, optional signed requests,
paginated incremental listing, license terms per document.

The API contract this connector speaks:

- `GET <documents_path>?page_size=N[&updated_since=T][&page_token=P]` answers
  `{"documents": [...], "next_page_token": P | null}`; each document has `id`,
  `download_url` (absolute, or relative to `base_url`), `updated_at` (ISO 8601), and any
  of `title`, `vendor`, `product`, `file_name`, `media_type`, `is_public`, `etag` and
  `license` (`name`, `terms`, `allowed_uses`, `expires_at`). A document withdrawn since
  `updated_since` is listed as a tombstone, `{"id", "updated_at", "deleted": true}`.
- The download answers `304` to `If-None-Match` / `If-Modified-Since` when unchanged.

A pass lists what changed since the last one, except the first and every
`full_listing_every`-th, which list every document (no `updated_since`): a manual held
from the API that such a pass does not list is gone, tombstone or not.

The bearer token comes from the token endpoint through Authlib, is cached until shortly
before it expires, fetched again then, and once more if the API answers `401`. Tokens
and signatures go only to the API's own host, never to a download host elsewhere.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Generator, Sequence
from types import TracebackType
from typing import Any, Self
from urllib.parse import urljoin, urlsplit

import httpx

from manualqa.config import VendorApiSourceSettings, read_secret
from manualqa.documents import ManualRef
from manualqa.governance import GovernanceError, with_license
from manualqa.sources import signing
from manualqa.sources.base import (
    Discovery,
    Fetched,
    FetchResult,
    SourceError,
    Unchanged,
    Validators,
    media_type_for,
    source_key,
)
from manualqa.sources.http import PoliteClient, conditional_headers

log = logging.getLogger(__name__)

TOKEN_LEEWAY_S = 30  # fetch a new token this long before the old one expires


def _secret(env_name: str | None, what: str, source: str) -> str | None:
    if env_name is None:
        return None
    value = read_secret(env_name)
    if not value:
        raise SourceError(f"source {source}: {what} is not set ({env_name} or {env_name}_FILE)")
    return value


class ClientCredentials:
    """An OAuth2 client-credentials token, cached and renewed by Authlib."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None,
        timeout_s: float,
        proxy: str | None,
    ) -> None:
        from authlib.integrations.httpx_client import OAuth2Client

        self._oauth = OAuth2Client(
            client_id=client_id,
            client_secret=client_secret,
            scope=scope,
            token_endpoint=token_url,
            grant_type="client_credentials",
            leeway=TOKEN_LEEWAY_S,
            timeout=timeout_s,
            proxy=proxy,
            trust_env=False,
        )

    def access_token(self) -> str:
        """The cached token, fetched first or again when it is about to expire."""
        try:
            if not self._oauth.token:
                self._oauth.fetch_token()
            else:
                self._oauth.ensure_active_token(self._oauth.token)
        except Exception as exc:  # Authlib raises OAuthError or the HTTP client's errors
            raise SourceError(f"token endpoint refused or failed: {exc!r}") from exc
        return str(self._oauth.token["access_token"])

    def renew(self) -> None:
        """Drop the cached token (the API refused it); the next call fetches a new one."""
        self._oauth.token = None

    def close(self) -> None:
        self._oauth.close()


class _ApiAuth(httpx.Auth):
    """Bearer token and optional HMAC signature on requests to the API host only."""

    requires_request_body = True

    def __init__(self, host: str, tokens: ClientCredentials | None, hmac_secret: bytes | None):
        self.host = host
        self.tokens = tokens
        self.hmac_secret = hmac_secret

    def _apply(self, request: httpx.Request) -> None:
        if request.url.netloc.decode().lower() != self.host:
            return
        if self.tokens is not None:
            request.headers["Authorization"] = f"Bearer {self.tokens.access_token()}"
        if self.hmac_secret is not None:
            timestamp = str(int(time.time()))
            target = f"{request.method} {request.url.raw_path.decode()}"
            request.headers["X-Timestamp"] = timestamp
            request.headers["X-Signature"] = signing.signature(
                self.hmac_secret, timestamp, request.content, target
            )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self._apply(request)
        response = yield request
        if response.status_code == 401 and self.tokens is not None:
            self.tokens.renew()
            self._apply(request)
            yield request


def _deleted(doc: dict[str, Any]) -> bool:
    deleted = doc.get("deleted", False)
    if not isinstance(deleted, bool):
        raise SourceError(f"document {doc.get('id')!r}: `deleted` is {deleted!r}, not a boolean")
    return deleted


class VendorApiConnector:
    """Manuals listed and served by one vendor's document API."""

    def __init__(self, name: str, namespace: str, settings: VendorApiSourceSettings) -> None:
        self.name = name
        self.namespace = namespace
        self.settings = settings
        self._tokens: ClientCredentials | None = None
        self._client: PoliteClient | None = None

    def __enter__(self) -> Self:
        settings = self.settings
        if settings.token_url is not None:
            client_id = _secret(settings.client_id_env, "the OAuth2 client id", self.name)
            secret = _secret(settings.client_secret_env, "the OAuth2 client secret", self.name)
            if client_id is None or secret is None:
                raise SourceError(
                    f"source {self.name}: token_url needs client_id_env and client_secret_env"
                )
            self._tokens = ClientCredentials(
                settings.token_url,
                client_id,
                secret,
                scope=settings.scope,
                timeout_s=settings.http.timeout_s,
                proxy=settings.http.proxy,
            )
        hmac_secret = _secret(settings.hmac_secret_env, "the request-signing secret", self.name)
        auth = _ApiAuth(
            urlsplit(settings.base_url).netloc.lower(),
            self._tokens,
            hmac_secret.encode() if hmac_secret else None,
        )
        self._client = PoliteClient(settings.http, auth=auth)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._client is not None:
            self._client.close()
        if self._tokens is not None:
            self._tokens.close()
        self._client = self._tokens = None

    @property
    def client(self) -> PoliteClient:
        if self._client is None:
            raise SourceError(f"source {self.name} is not open; use it in a `with` block")
        return self._client

    def discover(self, cursor: str | None = None) -> Discovery:
        """One page of documents updated since the cursor's time, or of every document
        in a full pass.

        The cursor holds `since` (the listing's lower bound), `page_token` (where the
        current pass goes on), `newest` (the latest `updated_at` seen in this pass,
        which becomes `since` once the pass ends), `full` (this pass lists everything)
        and `incremental` (the incremental passes since the last full one).
        """
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        incremental = int(state.get("incremental", 0))
        starting = not state.get("page_token")
        full = not state.get("since") or (
            incremental + 1 >= self.settings.full_listing_every
            if starting
            else bool(state.get("full"))
        )
        params: dict[str, str | int] = {"page_size": self.settings.page_size}
        if not full:
            params["updated_since"] = state["since"]
        if state.get("page_token"):
            params["page_token"] = state["page_token"]
        url = urljoin(self.settings.base_url, self.settings.documents_path)
        response = self.client.request("GET", url, params=params, max_bytes=50_000_000)
        if response.status != 200:
            raise SourceError(f"{url} answered {response.status}: {response.content[:200]!r}")
        try:
            body = json.loads(response.content)
            documents = body["documents"]
            next_token = body.get("next_page_token")
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceError(f"{url} sent a listing this connector cannot read") from exc
        gone = [self._key(doc) for doc in documents if _deleted(doc)]
        refs = [self._ref(doc) for doc in documents if not _deleted(doc)]
        newest = max([state.get("newest") or "", *(str(d["updated_at"]) for d in documents)])
        next_state: dict[str, Any]
        if next_token:
            next_state = {
                "since": state.get("since"),
                "page_token": next_token,
                "newest": newest,
                "full": full,
                "incremental": incremental,
            }
        else:
            next_state = {
                "since": newest or state.get("since"),
                "page_token": None,
                "incremental": 0 if full else incremental + 1,
            }
        return Discovery(
            refs=refs,
            cursor=json.dumps(next_state),
            more=bool(next_token),
            complete=full,  # a full pass lists every document the API offers now
            gone=gone,
        )

    def _key(self, doc: dict[str, Any]) -> str:
        if "id" not in doc:
            raise SourceError(f"source {self.name}: a document lacks 'id'")
        return source_key(self.namespace, str(doc["id"]))

    def _ref(self, doc: dict[str, Any]) -> ManualRef:
        try:
            document_id = str(doc["id"])
            download = urljoin(self.settings.base_url, str(doc["download_url"]))
            updated_at = str(doc["updated_at"])
        except KeyError as exc:
            raise SourceError(f"source {self.name}: a document lacks {exc}") from exc
        file_name = str(doc.get("file_name") or urlsplit(download).path.rsplit("/", 1)[-1])
        product = str(doc.get("product") or document_id)
        ref = ManualRef(
            key=source_key(self.namespace, document_id),
            uri=download,
            file_name=file_name,
            media_type=str(
                doc.get("media_type") or media_type_for(file_name) or "application/octet-stream"
            ),
            vendor=str(doc.get("vendor") or self.settings.default_vendor),
            product=product,
            title=str(doc.get("title") or product),
            license=self.settings.license.name,
            source=self.name,
            is_public=bool(doc.get("is_public", True)),
            version_token=str(doc.get("etag") or updated_at),
        )
        terms = doc.get("license") or {}
        try:
            return with_license(
                ref,
                self.settings.license,
                name=terms.get("name"),
                terms=terms.get("terms"),
                allowed_uses=terms.get("allowed_uses"),
                expires_at=terms.get("expires_at"),
            )
        except (GovernanceError, AttributeError) as exc:
            raise SourceError(f"source {self.name}: license of {document_id}: {exc}") from exc

    def fetch(self, ref: ManualRef, held: Validators | None = None) -> FetchResult:
        headers = conditional_headers(held)
        response = self.client.request("GET", ref.uri, headers=headers)
        validators = Validators(
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )
        if response.status == 304 and held is not None:
            return Unchanged(ref, held, "304 Not Modified")
        if response.status != 200:
            raise SourceError(f"{ref.uri} answered {response.status}")
        return Fetched(ref, response.content, validators)

    def settled(self, refs: Sequence[ManualRef], withdrawn: Sequence[str]) -> None:
        """Nothing to release: a pull source keeps no queue."""
