"""A licensed crawl of an explicitly permitted site, by version-controlled rules.

The rules file (YAML) names the seed pages, the URL patterns the crawl may visit, which
URLs are manuals, the user agent, the minimum delay, the license, the time window and
URLs to leave alone. `robots.txt` is obeyed (and its `Crawl-delay`); pages and
documents that say `noai` or `noindex` (meta robots tag or `X-Robots-Tag`) are not
taken, and `nofollow` pages are not followed. Each document gets a `HEAD` first (its
robots header, size and validators), then a conditional `GET`; `304` means unchanged,
and where a server sends no validators the checksum of the normalised text decides.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Self
from urllib.parse import unquote, urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from manualqa.config import CrawlSourceSettings, LicenseDefaults
from manualqa.documents import ManualRef
from manualqa.governance import ExclusionList, GovernanceError, with_license
from manualqa.inspection import inspect_document, text_checksum
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
from manualqa.sources.http import HttpResponse, PoliteClient, conditional_headers

log = logging.getLogger(__name__)

REFUSING_DIRECTIVES = frozenset({"noai", "noindex", "none"})
# Statuses that say a page or document is gone for good; any other refusal may pass.
GONE_STATUSES = frozenset({404, 410})


class CrawlWindow(BaseModel):
    """Hours (UTC) in which the crawl may run; `start` after `end` wraps midnight."""

    model_config = ConfigDict(extra="forbid")

    start: time
    end: time

    def contains(self, moment: datetime) -> bool:
        now = moment.astimezone(UTC).time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end


class CrawlRules(BaseModel):
    """One crawl's rules, read from its version-controlled YAML file."""

    model_config = ConfigDict(extra="forbid")

    version: str  # recorded with every object this crawl stores
    seeds: list[str] = Field(min_length=1)
    allow: list[str] = Field(min_length=1)  # shell patterns a URL must match to be visited
    documents: list[str] = ["*.pdf"]  # patterns of the URLs that are manuals
    exclude: list[str] = []  # URL patterns never visited
    user_agent: str | None = None
    min_delay_s: float | None = Field(None, ge=0)
    max_pages: int = Field(200, ge=1)  # HTML pages visited per crawl
    max_depth: int = Field(3, ge=0)
    vendor: str | None = None
    license: LicenseDefaults | None = None
    window: CrawlWindow | None = None

    @classmethod
    def load(cls, path: Path) -> CrawlRules:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            return cls.model_validate(data)
        except (OSError, yaml.YAMLError, ValidationError) as exc:
            raise SourceError(f"crawl rules {path}: {exc}") from exc

    def permits(self, url: str) -> bool:
        return any(fnmatch.fnmatchcase(url, p) for p in self.allow) and not any(
            fnmatch.fnmatchcase(url, p) for p in self.exclude
        )

    def is_document(self, url: str) -> bool:
        path = urlsplit(url).path
        return any(
            fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(url, p) for p in self.documents
        )


def robots_directives(value: str | None, user_agent: str = "") -> set[str]:
    """Directives of an `X-Robots-Tag` header or a robots meta tag, lower-cased; a
    directive scoped to another bot (`otherbot: noindex`) is ignored."""
    directives: set[str] = set()
    for part in (value or "").split(","):
        token = part.strip().lower()
        if ":" in token:
            bot, _, token = token.partition(":")
            if bot.strip() not in ("*", user_agent.lower().split("/")[0]):
                continue
        directives.update(t for t in token.split() if t)
    return directives


class _PageParser(HTMLParser):
    """Links with their text, and robots meta directives, of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self.robots: list[str] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        if tag == "a" and values.get("href"):
            self._href, self._text = values["href"], []
        elif tag == "meta" and values.get("name", "").lower() in ("robots", "ai"):
            self.robots.append(values.get("content", ""))

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join("".join(self._text).split())))
            self._href = None


class CrawlConnector:
    """The manuals a permitted site links to, under its crawl rules."""

    def __init__(
        self,
        name: str,
        namespace: str,
        settings: CrawlSourceSettings,
        *,
        exclusions: ExclusionList | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.settings = settings
        self.rules = CrawlRules.load(settings.rules)
        digest = hashlib.sha256(settings.rules.read_bytes()).hexdigest()[:12]
        self.config_version = f"{self.rules.version}+{digest}"
        self.exclusions = exclusions or ExclusionList()
        self.clock = clock
        self.user_agent = self.rules.user_agent or settings.http.user_agent
        self._client: PoliteClient | None = None
        self._robots: dict[str, RobotFileParser] = {}
        self.skipped: list[tuple[str, str]] = []  # (url, why) of the last discovery
        self.unsure: list[str] = []  # URLs the last discovery could not settle

    def __enter__(self) -> Self:
        http = self.settings.http.model_copy(update={"user_agent": self.user_agent})
        if self.rules.min_delay_s is not None:
            http = http.model_copy(update={"min_delay_s": self.rules.min_delay_s})
        self._client = PoliteClient(http)
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
        self._robots.clear()

    @property
    def client(self) -> PoliteClient:
        if self._client is None:
            raise SourceError(f"source {self.name} is not open; use it in a `with` block")
        return self._client

    def in_window(self) -> bool:
        return self.rules.window is None or self.rules.window.contains(self.clock())

    def discover(self, cursor: str | None = None) -> Discovery:
        """Walk the site from the seeds and return every manual it may take.

        A crawl lists the whole site each time (the cursor only records when and under
        which rules version it last ran); what changed is settled by `fetch`'s
        conditional requests. The listing is complete, so a manual it no longer links
        to is gone, unless a page or a `HEAD` answered something other than success or
        gone, or the page budget ran out. Outside the time window it returns nothing.
        """
        self.skipped, self.unsure = [], []
        if not self.in_window():
            log.info("crawl %s: outside its time window; nothing discovered", self.name)
            return Discovery(refs=[], cursor=cursor)
        documents: dict[str, str] = {}
        queue = deque((seed, 0) for seed in self.rules.seeds)
        visited: set[str] = set()
        while queue and len(visited) < self.rules.max_pages:
            url, depth = queue.popleft()
            if url in visited or not self._may_visit(url):
                continue
            visited.add(url)
            for link, text, is_document in self._links(url):
                if is_document:
                    documents.setdefault(link, text)
                elif depth < self.rules.max_depth and link not in visited:
                    queue.append((link, depth + 1))
        self.unsure.extend(url for url, _ in queue if url not in visited)
        refs = []
        for url, text in sorted(documents.items()):
            ref = self._preflight(url, text)
            if ref is not None:
                refs.append(ref)
        state = {"crawled_at": self.clock().isoformat(), "rules": self.config_version}
        if self.unsure:
            log.info("crawl %s: %d URLs unsettled, so none is gone", self.name, len(self.unsure))
        return Discovery(refs=refs, cursor=json.dumps(state), complete=not self.unsure)

    def _skip(self, url: str, why: str, status: int | None = None) -> None:
        """Leave `url` out; a status that does not say it is gone leaves the listing unsure."""
        log.info("crawl %s: skipped %s: %s", self.name, url, why)
        self.skipped.append((url, why))
        if status is not None and status not in GONE_STATUSES:
            self.unsure.append(url)

    def _may_visit(self, url: str) -> bool:
        if not self.rules.permits(url):
            return False
        excluded = self.exclusions.reason_to_exclude_url(url)
        if excluded:
            self._skip(url, excluded)
            return False
        if not self._robots_for(url).can_fetch(self.user_agent, url):
            self._skip(url, "robots.txt disallows it")
            return False
        return True

    def _robots_for(self, url: str) -> RobotFileParser:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        parser = self._robots.get(origin)
        if parser is None:
            parser = RobotFileParser(origin + "/robots.txt")
            response = self.client.request("GET", origin + "/robots.txt", max_bytes=500_000)
            if response.status in (401, 403) or response.status >= 500:
                parser.disallow_all = True  # type: ignore[attr-defined]  # the convention: a guarded robots.txt forbids all
            elif response.status >= 400:
                parser.allow_all = True  # type: ignore[attr-defined]
            else:
                parser.parse(response.content.decode("utf-8", "replace").splitlines())
                delay = parser.crawl_delay(self.user_agent)
                if delay:
                    self.client.set_min_delay(parts.netloc.lower(), float(delay))
            self._robots[origin] = parser
        return parser

    def _links(self, url: str) -> list[tuple[str, str, bool]]:
        response = self.client.request("GET", url, max_bytes=5_000_000)
        if response.status != 200:
            self._skip(url, f"answered {response.status}", response.status)
            return []
        if "html" not in response.headers.get("content-type", "text/html"):
            return []
        header = robots_directives(response.headers.get("x-robots-tag"), self.user_agent)
        parser = _PageParser()
        parser.feed(response.content.decode("utf-8", "replace"))
        meta = set().union(*(robots_directives(v, self.user_agent) for v in parser.robots))
        if "nofollow" in header | meta or "none" in header | meta:
            self._skip(url, "the page says nofollow")
            return []
        links = []
        for href, text in parser.links:
            link = urldefrag(urljoin(response.url, href)).url
            if urlsplit(link).scheme in ("http", "https") and self.rules.permits(link):
                links.append((link, text, self.rules.is_document(link)))
        return links

    def _preflight(self, url: str, link_text: str) -> ManualRef | None:
        """HEAD the document: its robots header, size and validators decide whether to
        take it; returns its ref, or None (recorded in `skipped`) when not."""
        if not self._may_visit(url):
            return None
        response = self.client.request("HEAD", url)
        if response.status == 405:  # HEAD not allowed: the GET will tell
            return self._ref(url, link_text, response, head_ok=False)
        if response.status != 200:
            self._skip(url, f"HEAD answered {response.status}", response.status)
            return None
        refused = robots_directives(response.headers.get("x-robots-tag"), self.user_agent)
        if refused & REFUSING_DIRECTIVES:
            self._skip(url, f"X-Robots-Tag says {sorted(refused & REFUSING_DIRECTIVES)}")
            return None
        length = response.headers.get("content-length")
        cap = self.settings.http.max_document_bytes
        if length is not None and length.isdigit() and int(length) > cap:
            self._skip(url, f"{length} bytes, over the {cap}-byte cap")
            return None
        return self._ref(url, link_text, response)

    def _ref(
        self, url: str, link_text: str, head: HttpResponse, *, head_ok: bool = True
    ) -> ManualRef:
        path = unquote(urlsplit(url).path)
        file_name = PurePosixPath(path).name or "index.html"
        product = PurePosixPath(file_name).stem
        token = ""
        if head_ok:
            token = head.headers.get("etag") or head.headers.get("last-modified") or ""
        declared = head.headers.get("content-type", "").split(";")[0].strip()
        ref = ManualRef(
            key=source_key(self.namespace, url.split("://", 1)[-1]),
            uri=url,
            file_name=file_name,
            media_type=media_type_for(file_name) or declared or "application/octet-stream",
            vendor=self.rules.vendor or self.settings.default_vendor,
            product=product,
            title=link_text or product,
            license=self.settings.license.name,
            source=self.name,
            version_token=token,
        )
        try:
            return with_license(ref, self.rules.license or self.settings.license)
        except GovernanceError as exc:
            raise SourceError(f"crawl rules of {self.name}: {exc}") from exc

    def fetch(self, ref: ManualRef, held: Validators | None = None) -> FetchResult:
        if not self.in_window():
            raise SourceError(f"crawl {self.name} is outside its time window")
        response = self.client.request("GET", ref.uri, headers=conditional_headers(held))
        if response.status == 304 and held is not None:
            return Unchanged(ref, held, "304 Not Modified")
        if response.status != 200:
            raise SourceError(f"{ref.uri} answered {response.status}")
        refused = robots_directives(response.headers.get("x-robots-tag"), self.user_agent)
        if "html" in response.headers.get("content-type", ""):
            parser = _PageParser()
            parser.feed(response.content.decode("utf-8", "replace"))
            refused |= set().union(*(robots_directives(v, self.user_agent) for v in parser.robots))
        if refused & REFUSING_DIRECTIVES:
            raise SourceError(
                f"{ref.uri} refuses this use: {sorted(refused & REFUSING_DIRECTIVES)}"
            )
        checksum = text_checksum(inspect_document(response.content, ref.media_type).text)
        validators = Validators(
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            checksum=checksum,
        )
        if (
            held is not None
            and held.checksum == checksum
            and not (validators.etag or validators.last_modified)
        ):
            return Unchanged(ref, validators, "same normalised text")
        return Fetched(ref, response.content, validators)

    def settled(self, refs: Sequence[ManualRef], withdrawn: Sequence[str]) -> None:
        """Nothing to release: a pull source keeps no queue."""
