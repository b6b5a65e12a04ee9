"""The vendor-API connector against a real OAuth2 token endpoint and a paginated,
rate-limited document API on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import pytest

from manual_assets_tests.http_servers import Reply, Request, Server, http_server
from manual_assets_tests.manualqa.conftest import PdfSpec, build_pdf
from manualqa.config import HttpClientSettings, LicenseDefaults, VendorApiSourceSettings
from manualqa.sources import Fetched, SourceError, Unchanged, discover_all, signing, source_key
from manualqa.sources.vendor_api import VendorApiConnector

SECRET = "api-hmac-secret"
DOCS = [
    {
        "id": f"DOC-{i}",
        "title": f"Model {i} manual",
        "vendor": "Acme",
        "product": f"M-{i}",
        "file_name": f"m{i}.pdf",
        "download_url": f"/files/m{i}.pdf",
        "updated_at": f"2026-05-0{i + 1}T00:00:00+00:00",
        "license": {"name": "acme-partner", "allowed_uses": ["index"], "expires_at": "2031-01-01"},
    }
    for i in range(5)
]
PDF = build_pdf(PdfSpec(pages=[["Model manual", "Press the power button for three seconds."]]))


class Api:
    def __init__(self, server: Server, token_ttl: int = 3600) -> None:
        self.server = server
        self.token_ttl = token_ttl
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.bad_signatures = 0
        server.routes.update(
            {"/oauth/token": self.token, "/v1/documents": self.documents}
            | {f"/files/m{i}.pdf": self.file for i in range(5)}
        )

    def token(self, request: Request) -> Reply:
        form = dict(p.split("=", 1) for p in request.body.decode().split("&"))
        basic = request.headers.get("authorization", "")
        client = base64.b64decode(basic.removeprefix("Basic ")).decode() if basic else ""
        if form.get("grant_type") != "client_credentials" or client != "acme-client:acme-pass":
            return Reply(401, b'{"error": "invalid_client"}', {"Content-Type": "application/json"})
        token = f"t{len(self.issued)}"
        self.issued.append(token)
        body = {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}
        return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def authorised(self, request: Request) -> bool:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        signed = signing.signature(
            SECRET.encode(),
            request.headers.get("x-timestamp", ""),
            request.body,
            f"{request.method} {request.target}",
        )
        if signed != request.headers.get("x-signature"):
            self.bad_signatures += 1
            return False
        return token in self.issued and token not in self.revoked

    def documents(self, request: Request) -> Reply:
        if not self.authorised(request):
            return Reply(401, b"{}")
        size = int(request.query["page_size"][0])
        since = request.query.get("updated_since", [""])[0]
        start = int(request.query.get("page_token", ["0"])[0])
        docs = [d for d in DOCS if d["updated_at"] > since]
        page = docs[start : start + size]
        more = start + size < len(docs)
        remaining = "0" if len(self.server.requests("/v1/documents")) % 2 == 1 else "5"
        body = {"documents": page, "next_page_token": str(start + size) if more else None}
        headers = {"X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": "1"}
        return Reply(200, json.dumps(body).encode(), headers)

    def file(self, request: Request) -> Reply:
        if not self.authorised(request):
            return Reply(401, b"")
        if request.headers.get("if-none-match") == '"f1"':
            return Reply(304, headers={"ETag": '"f1"'})
        return Reply(200, PDF, {"ETag": '"f1"', "Content-Type": "application/pdf"})


@pytest.fixture
def api(monkeypatch) -> Iterator[Api]:
    monkeypatch.setenv("ACME_CLIENT_ID", "acme-client")
    monkeypatch.setenv("ACME_CLIENT_SECRET", "acme-pass")
    monkeypatch.setenv("ACME_HMAC", SECRET)
    with http_server() as server:
        yield Api(server)


def connector(api: Api, **overrides) -> VendorApiConnector:
    settings = VendorApiSourceSettings(
        base_url=api.server.base_url,
        documents_path="/v1/documents",
        token_url=f"{api.server.base_url}/oauth/token",
        client_id_env="ACME_CLIENT_ID",
        client_secret_env="ACME_CLIENT_SECRET",
        hmac_secret_env="ACME_HMAC",
        page_size=2,
        license=LicenseDefaults(name="fallback"),
        http=HttpClientSettings(min_delay_s=0, backoff_base_s=0.01),
        **overrides,
    )
    return VendorApiConnector("acme-api", "acme-api", settings)


def test_pages_are_listed_with_one_cached_token_and_rate_limits_are_honoured(api):
    started = time.monotonic()
    with connector(api) as source:
        listing = discover_all(source)
        refs, cursor = listing.refs, listing.cursor
    assert [r.key for r in refs] == [source_key("acme-api", d["id"]) for d in DOCS]
    assert len(api.server.requests("/v1/documents")) == 3  # 2 + 2 + 1
    assert api.issued == ["t0"]  # one token for the whole pass
    # Pages 1 and 3 said X-RateLimit-Remaining: 0, reset in 1 s: the next call waited.
    calls = api.server.requests("/v1/documents")
    assert calls[1].at - calls[0].at >= 0.95
    assert time.monotonic() - started >= 0.95
    ref = refs[0]
    assert (ref.license, ref.allowed_uses, ref.license_expires_at) == (
        "acme-partner",
        ("index",),
        "2031-01-01T00:00:00+00:00",
    )
    assert ref.vendor == "Acme" and ref.uri == f"{api.server.base_url}/files/m0.pdf"
    assert json.loads(cursor)["since"] == DOCS[-1]["updated_at"]
    with connector(api) as source:
        assert discover_all(source, cursor).refs == []  # nothing updated since


def test_a_full_pass_is_complete_and_tombstones_name_withdrawn_documents(api):
    with connector(api) as source:
        first = discover_all(source)
        DOCS.append({"id": "DOC-1", "updated_at": "2026-06-01T00:00:00+00:00", "deleted": True})
        try:
            later = discover_all(source, first.cursor)
        finally:
            DOCS.pop()
    assert first.complete and first.gone == []
    assert not later.complete and later.refs == []
    assert later.gone == [source_key("acme-api", "DOC-1")]
    # Only what the catalog holds can be gone; an incremental pass omits the rest.
    held = [source_key("acme-api", d["id"]) for d in DOCS]
    assert later.gone_of(held) == [source_key("acme-api", "DOC-1")]
    assert first.gone_of([*held, "acme-api:doc-99"]) == ["acme-api:doc-99"]


def test_downloads_are_conditional_and_a_revoked_token_is_renewed(api):
    with connector(api) as source:
        ref, *_ = discover_all(source).refs
        fetched = source.fetch(ref)
        assert isinstance(fetched, Fetched) and fetched.data == PDF
        api.revoked.add("t0")
        again = source.fetch(ref, fetched.validators)
    assert isinstance(again, Unchanged) and again.reason == "304 Not Modified"
    assert api.issued == ["t0", "t1"]  # the 401 fetched a new token once
    assert api.bad_signatures == 0  # every request, the retried one too, was signed
    get = api.server.requests("/files/m0.pdf")[-1]
    assert get.headers["if-none-match"] == '"f1"'


def test_an_expired_token_is_fetched_again(api):
    api.token_ttl = 1  # inside Authlib's leeway: expired at once
    with connector(api) as source:
        discover_all(source)
    assert len(api.issued) == 3


def test_wrong_credentials_and_missing_secrets_fail_clearly(api, monkeypatch):
    monkeypatch.setenv("ACME_CLIENT_SECRET", "wrong")
    with connector(api) as source, pytest.raises(SourceError, match="token endpoint"):
        source.discover()
    monkeypatch.delenv("ACME_CLIENT_SECRET")
    with pytest.raises(SourceError, match="ACME_CLIENT_SECRET"):
        connector(api).__enter__()


def test_every_nth_pass_lists_everything_and_notices_a_withdrawal_without_a_tombstone(api):
    held = [source_key("acme-api", d["id"]) for d in DOCS]
    with connector(api, full_listing_every=3) as source:
        first = discover_all(source)
        second = discover_all(source, first.cursor)
        third = discover_all(source, second.cursor)
        withdrawn = DOCS.pop(1)  # gone from the API, no tombstone left behind
        try:
            fourth = discover_all(source, third.cursor)
            fifth = discover_all(source, fourth.cursor)
        finally:
            DOCS.insert(1, withdrawn)
    passes = [first, second, third, fourth, fifth]
    assert [listing.complete for listing in passes] == [True, False, False, True, False]
    assert [len(listing.refs) for listing in passes] == [5, 0, 0, 4, 0]
    # The incremental passes missed the withdrawal; the full one reports it gone.
    assert third.gone_of(held) == []
    assert fourth.gone_of(held) == [source_key("acme-api", "DOC-1")]
    assert fifth.gone_of(held) == []
    firsts = [
        r for r in api.server.requests("/v1/documents") if "page_token" not in r.query
    ]  # the first page of each pass
    assert ["updated_since" in r.query for r in firsts] == [False, True, True, False, True]
    assert json.loads(fourth.cursor)["since"] == DOCS[-1]["updated_at"]
