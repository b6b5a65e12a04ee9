"""The licensed crawl against a real site on 127.0.0.1: robots.txt, noai, ETags, 429
storms, slow and oversized responses, and a second crawl that costs only 304s."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from manual_assets_tests.http_servers import Reply, Request, Server, http_server
from manual_assets_tests.manualqa.conftest import PdfSpec, build_pdf, make_ref
from manualqa.config import (
    CrawlSourceSettings,
    DedupSettings,
    HttpClientSettings,
    ValidationSettings,
)
from manualqa.dedup import NearDuplicateIndex
from manualqa.governance import ExclusionList
from manualqa.harvest import HeldCopy, Outcome, harvest
from manualqa.objectstore import LocalObjectStore
from manualqa.sources import SourceError
from manualqa.sources.crawl import CrawlConnector, robots_directives

TEXT = [f"Step {i}: clean the filter gently and check the seal before use." for i in range(8)]


def manual_pdf(title: str) -> bytes:
    return build_pdf(PdfSpec(pages=[[title, *TEXT], [f"{title} maintenance", *TEXT[::-1]]]))


def etagged(body: bytes, etag: str):
    def handler(request: Request) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(200, body, {"ETag": etag, "Content-Type": "application/pdf"})

    return handler


def storm(body: bytes, failures: int, status: int = 429, retry_after: str | None = "1"):
    seen = {"n": 0}

    def handler(request: Request) -> Reply:
        if request.method == "GET":
            seen["n"] += 1
            if seen["n"] <= failures:
                headers = {"Retry-After": retry_after} if retry_after else {}
                return Reply(status, b"slow down", headers)
        return Reply(200, body, {"Content-Type": "application/pdf", "ETag": '"storm"'})

    return handler


def slow(seconds: float, body: bytes):
    def handler(request: Request) -> Reply:
        if request.method == "GET":
            time.sleep(seconds)
        return Reply(200, body, {"Content-Type": "application/pdf"})

    return handler


def page(*links: str, meta: str = "") -> Reply:
    anchors = "".join(f'<a href="{href}">{href.rsplit("/", 1)[-1]} manual</a>' for href in links)
    head = f'<meta name="robots" content="{meta}">' if meta else ""
    html = f"<html><head>{head}</head><body>{anchors}</body></html>"
    return Reply(200, html.encode(), {"Content-Type": "text/html; charset=utf-8"})


@pytest.fixture
def site() -> Iterator[Server]:
    with http_server() as server:
        ac200 = manual_pdf("AC-200 owner's manual")
        routes = {
            "/robots.txt": lambda r: Reply(200, b"User-agent: *\nDisallow: /private/\n"),
            "/manuals/": lambda r: page(
                "ac-200.pdf",
                "noai.pdf",
                "/private/secret.pdf",
                "nofollow.html",
                "storm.pdf",
                "plain.pdf",
                "excluded.pdf",
                "https://elsewhere.invalid/x.pdf",
            ),
            "/manuals/nofollow.html": lambda r: page("hidden.pdf", meta="nofollow"),
            "/manuals/ac-200.pdf": etagged(ac200, '"ac200-v1"'),
            "/manuals/noai.pdf": lambda r: Reply(
                200, manual_pdf("No AI"), {"X-Robots-Tag": "noai, noimageai"}
            ),
            "/private/secret.pdf": lambda r: Reply(200, manual_pdf("Secret")),
            "/manuals/hidden.pdf": lambda r: Reply(200, manual_pdf("Hidden")),
            "/manuals/storm.pdf": storm(manual_pdf("Storm model"), failures=2),
            "/manuals/plain.pdf": lambda r: Reply(
                200, manual_pdf("Plain server"), {"Content-Type": "application/pdf"}
            ),
            "/manuals/excluded.pdf": lambda r: Reply(200, manual_pdf("Excluded")),
        }
        server.routes.update(routes)
        yield server


def write_rules(tmp_path: Path, base: str, **extra: str) -> Path:
    rules = tmp_path / "rules.yaml"
    lines = [
        'version: "7"',
        f"seeds: ['{base}/manuals/']",
        f"allow: ['{base}/*']",
        "vendor: Acme",
        "user_agent: manualqa-test/1.0",
        "license: {name: acme-crawl-license, allowed_uses: [index, serve]}",
        *[f"{k}: {v}" for k, v in extra.items()],
    ]
    rules.write_text("\n".join(lines) + "\n")
    return rules


def crawler(tmp_path: Path, base: str, *, exclusions=None, clock=None, **http) -> CrawlConnector:
    options = {"min_delay_s": 0.05, "timeout_s": 2.0, "backoff_base_s": 0.01, "max_retries": 3}
    options.update(http)
    settings = CrawlSourceSettings(
        rules=write_rules(tmp_path, base), http=HttpClientSettings(**options)
    )
    extra = {"clock": clock} if clock else {}
    return CrawlConnector("acme-crawl", "acme-crawl", settings, exclusions=exclusions, **extra)


def run(connector, store, held=None):
    with connector:
        return harvest(
            connector,
            store,
            cursor=None,
            held=held or {},
            validation=ValidationSettings(),
            dedup=DedupSettings(),
            duplicates=NearDuplicateIndex(DedupSettings()),
            exclusions=ExclusionList(),
            config_version="1",
        )


def test_a_crawl_obeys_robots_noai_nofollow_and_the_exclusion_list(tmp_path, site):
    exclusions = ExclusionList(urls=("*/manuals/excluded.pdf",))
    connector = crawler(tmp_path, site.base_url, exclusions=exclusions)
    result = run(connector, LocalObjectStore(tmp_path / "objects"))

    taken = sorted(item.ref.file_name for item in result.items)
    assert taken == ["ac-200.pdf", "plain.pdf", "storm.pdf"]
    assert all(i.outcome == Outcome.NEW for i in result.items), result.items
    assert site.requests("/private/secret.pdf") == []  # robots.txt disallows /private/
    assert site.requests("/manuals/hidden.pdf") == []  # only linked from a nofollow page
    assert site.requests("/manuals/noai.pdf", "GET") == []  # HEAD said noai: never downloaded
    assert site.requests("/manuals/excluded.pdf") == []
    skipped = dict(connector.skipped)
    assert "robots.txt" in skipped[f"{site.base_url}/private/secret.pdf"]
    assert "noai" in skipped[f"{site.base_url}/manuals/noai.pdf"]
    assert all(r.headers["user-agent"] == "manualqa-test/1.0" for r in site.log)
    item = next(i for i in result.items if i.ref.file_name == "ac-200.pdf")
    assert item.ref.key.startswith("acme-crawl:")
    assert item.ref.license == "acme-crawl-license" and item.ref.vendor == "Acme"
    assert result.config_version.startswith("7+")


def test_a_second_crawl_sends_conditional_requests_and_stores_nothing_new(tmp_path, site):
    store = LocalObjectStore(tmp_path / "objects")
    first = run(crawler(tmp_path, site.base_url), store)
    objects = list(store.list("raw"))
    held = {i.key: HeldCopy(i.content_hash, i.validators) for i in first.items if i.content_hash}
    site.log.clear()

    second = run(crawler(tmp_path, site.base_url), store, held)

    outcomes = {i.ref.file_name: (i.outcome, i.reason) for i in second.items}
    assert outcomes["ac-200.pdf"] == (Outcome.UNCHANGED, "304 Not Modified")
    assert outcomes["storm.pdf"][0] == Outcome.UNCHANGED
    # No validators from that server: its normalised text decides.
    assert outcomes["plain.pdf"] == (Outcome.UNCHANGED, "same normalised text")
    (get,) = site.requests("/manuals/ac-200.pdf", "GET")
    assert get.headers["if-none-match"] == '"ac200-v1"'
    assert second.counts()["unchanged"] == len(first.items) == 4
    assert second.to_materialize == []
    assert list(store.list("raw")) == objects


def test_a_manual_the_site_stops_linking_to_is_gone_unless_the_crawl_was_unsure(tmp_path, site):
    store = LocalObjectStore(tmp_path / "objects")
    first = run(crawler(tmp_path, site.base_url), store)
    held = {i.key: HeldCopy(i.content_hash, i.validators) for i in first.items if i.content_hash}
    (plain,) = [i.key for i in first.items if i.ref.file_name == "plain.pdf"]
    assert first.gone == []
    links = ("ac-200.pdf", "nofollow.html", "storm.pdf", "excluded.pdf")
    site.routes["/manuals/"] = lambda r: page(*links)

    second = run(crawler(tmp_path, site.base_url), store, held)
    assert second.gone == [plain] and second.counts()["gone"] == 1

    # A page that answers 403 may link to it still: nothing counts as gone.
    site.routes["/manuals/nofollow.html"] = lambda r: Reply(403, b"")
    third = run(crawler(tmp_path, site.base_url), store, held)
    assert third.gone == [] and third.error is None


def test_429_storms_honour_retry_after_and_5xx_back_off(tmp_path, site):
    site.routes["/manuals/"] = lambda r: page("storm.pdf", "flaky.pdf")
    site.routes["/manuals/flaky.pdf"] = storm(manual_pdf("Flaky"), 2, status=503, retry_after=None)
    result = run(crawler(tmp_path, site.base_url), LocalObjectStore(tmp_path / "o"))

    assert {i.ref.file_name: i.outcome for i in result.items} == {
        "flaky.pdf": Outcome.NEW,
        "storm.pdf": Outcome.NEW,
    }
    gets = site.requests("/manuals/storm.pdf", "GET")
    assert len(gets) == 3
    assert gets[1].at - gets[0].at >= 0.95 and gets[2].at - gets[1].at >= 0.95  # Retry-After: 1
    assert len(site.requests("/manuals/flaky.pdf", "GET")) == 3


def test_a_storm_longer_than_the_retries_fails_that_manual_only(tmp_path, site):
    site.routes["/manuals/"] = lambda r: page("storm.pdf", "ac-200.pdf")
    site.routes["/manuals/storm.pdf"] = storm(manual_pdf("x"), 50, retry_after="0")
    result = run(crawler(tmp_path, site.base_url, max_retries=2), LocalObjectStore(tmp_path / "o"))
    outcomes = {i.ref.file_name: i for i in result.items}
    assert outcomes["ac-200.pdf"].outcome == Outcome.NEW
    assert outcomes["storm.pdf"].outcome == Outcome.FAILED
    assert "429" in outcomes["storm.pdf"].reason
    assert len(site.requests("/manuals/storm.pdf", "GET")) == 3


def test_a_retry_after_beyond_the_limit_is_not_waited_for(tmp_path, site):
    site.routes["/manuals/"] = lambda r: page("storm.pdf")
    site.routes["/manuals/storm.pdf"] = storm(manual_pdf("x"), 5, retry_after="3600")
    started = time.monotonic()
    result = run(crawler(tmp_path, site.base_url, max_retry_after_s=5), LocalObjectStore(tmp_path))
    assert time.monotonic() - started < 5
    (item,) = result.items
    assert item.outcome == Outcome.FAILED and "3600s" in item.reason


def test_slow_responses_time_out_and_fail_cleanly(tmp_path, site):
    site.routes["/manuals/"] = lambda r: page("slow.pdf")
    site.routes["/manuals/slow.pdf"] = slow(1.5, manual_pdf("Slow"))
    result = run(
        crawler(tmp_path, site.base_url, timeout_s=0.4, max_retries=1), LocalObjectStore(tmp_path)
    )
    (item,) = result.items
    assert item.outcome == Outcome.FAILED and "Timeout" in item.reason


def test_documents_over_the_byte_cap_are_not_downloaded(tmp_path, site):
    big = manual_pdf("Big") + b"%" * 300_000
    site.routes["/manuals/"] = lambda r: page("big.pdf", "streamed.pdf")
    site.routes["/manuals/big.pdf"] = lambda r: Reply(200, big, {"Content-Type": "application/pdf"})
    connector = crawler(tmp_path, site.base_url, max_document_bytes=200_000)
    result = run(connector, LocalObjectStore(tmp_path))
    assert result.items == []
    assert "over the 200000-byte cap" in dict(connector.skipped)[f"{site.base_url}/manuals/big.pdf"]
    assert site.requests("/manuals/big.pdf", "GET") == []


def test_requests_to_one_host_keep_the_minimum_delay(tmp_path, site):
    run(crawler(tmp_path, site.base_url, min_delay_s=0.2), LocalObjectStore(tmp_path))
    times = [r.at for r in site.log]
    assert len(times) > 5
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.19


def test_outside_its_time_window_a_crawl_takes_nothing(tmp_path, site):
    rules = write_rules(tmp_path, site.base_url, window="{start: '01:00', end: '03:00'}")
    settings = CrawlSourceSettings(rules=rules)
    noon = lambda: datetime(2026, 5, 1, 12, 0, tzinfo=UTC)  # noqa: E731
    with CrawlConnector("c", "c", settings, clock=noon) as connector:
        assert connector.discover().refs == []
        with pytest.raises(SourceError, match="time window"):
            connector.fetch(replace(make_ref("ac-200.pdf"), uri=f"{site.base_url}/ac-200.pdf"))
    assert site.log == []


def test_robots_directives_parse_headers_and_scoped_bots():
    assert robots_directives("noai, noimageai") == {"noai", "noimageai"}
    assert robots_directives("otherbot: noindex", "manualqa-test/1.0") == set()
    assert robots_directives("manualqa-test: noindex", "manualqa-test/1.0") == {"noindex"}


def test_malformed_rules_are_refused_with_the_file_named(tmp_path):
    rules = tmp_path / "bad.yaml"
    rules.write_text("version: 1\nseeds: []\nallow: ['*']\n")
    with pytest.raises(SourceError, match=r"bad\.yaml"):
        CrawlConnector("c", "c", CrawlSourceSettings(rules=rules))


def test_every_request_goes_through_the_configured_egress_proxy(tmp_path, site):
    # The site's host does not resolve: only the proxy (the test server) can reach it.
    origin = "http://manuals.example.invalid"
    store = LocalObjectStore(tmp_path / "objects")
    connector = crawler(tmp_path, origin, proxy=site.base_url)

    result = run(connector, store)

    assert {i.ref.file_name for i in result.items if i.content_hash} >= {"ac-200.pdf"}
    assert site.log and all(r.target.startswith(origin + "/") for r in site.log)
    assert site.requests("/robots.txt")  # robots.txt too is fetched through the proxy
