"""A polite HTTP client shared by the crawl and vendor-API connectors.

One request at a time per host (so one kept-alive connection per host) with a minimum
delay between two; `429` and `5xx` retried with exponential backoff and full jitter
(tenacity), waiting exactly as long as `Retry-After` says when the server says it; a
server that announces `X-RateLimit-Remaining: 0` is left alone until its
`X-RateLimit-Reset`; bodies streamed and cut at a byte cap; an optional egress proxy.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from manualqa.config import HttpClientSettings
from manualqa.sources.base import SourceError, Validators

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A reset value above this is an epoch timestamp, below it a number of seconds.
_EPOCH_THRESHOLD = 1_000_000_000


class RetryableResponse(SourceError):
    """A `429` or `5xx` answer, with the server's `Retry-After` in seconds if it gave one."""

    def __init__(self, url: str, status: int, retry_after: float | None) -> None:
        super().__init__(f"{url} answered {status}")
        self.status = status
        self.retry_after = retry_after


class OverCapError(SourceError):
    """A document is larger than the byte cap."""


@dataclass(frozen=True)
class HttpResponse:
    """A response whose body has been read (within the byte cap)."""

    url: str
    status: int
    headers: httpx.Headers
    content: bytes


def conditional_headers(held: Validators | None) -> dict[str, str]:
    """`If-None-Match` / `If-Modified-Since` for the validators of a held copy."""
    headers = {}
    if held is not None and held.etag:
        headers["If-None-Match"] = held.etag
    if held is not None and held.last_modified:
        headers["If-Modified-Since"] = held.last_modified
    return headers


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value (delta seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def rate_limit_pause(headers: httpx.Headers, now: float | None = None) -> float:
    """How long to leave a host alone after a response announcing its rate limit."""
    remaining = headers.get("x-ratelimit-remaining")
    reset = headers.get("x-ratelimit-reset")
    if remaining is None or reset is None:
        return 0.0
    try:
        if int(float(remaining)) > 0:
            return 0.0
        value = float(reset)
    except ValueError:
        return 0.0
    if value > _EPOCH_THRESHOLD:
        return max(0.0, value - (now if now is not None else time.time()))
    return max(0.0, value)


class _HostGate:
    """Serialises requests to one host and keeps the minimum delay between them."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.lock = threading.Lock()
        self.not_before = 0.0
        self.min_delay = 0.0


class PoliteClient:
    """HTTP requests under one source's politeness, retry and size rules."""

    def __init__(
        self,
        settings: HttpClientSettings,
        *,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self._client = httpx.Client(
            auth=auth,
            headers={"User-Agent": settings.user_agent, **(headers or {})},
            timeout=settings.timeout_s,
            proxy=settings.proxy,
            follow_redirects=True,
            trust_env=False,  # the proxy comes from config, never from ambient variables
        )
        self._gates: dict[str, _HostGate] = {}
        self._gates_lock = threading.Lock()
        self.requests_sent = 0

    def close(self) -> None:
        self._client.close()

    def set_min_delay(self, host: str, seconds: float) -> None:
        """Keep at least `seconds` between two requests to `host` (a robots.txt
        `Crawl-delay`, say), on top of the source's own minimum."""
        self._gate(f"//{host}").min_delay = max(self.settings.min_delay_s, seconds)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        max_bytes: int | None = None,
    ) -> HttpResponse:
        """Send one request, retrying `429`/`5xx`/transport errors; any other status is
        returned as is.

        Raises:
            SourceError: retries exhausted, a `Retry-After` longer than allowed, the
                body over `max_bytes` (default: the source's cap), or a network failure.
        """
        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            wait=self._wait,
            stop=stop_after_attempt(self.settings.max_retries + 1),
            reraise=True,
            before_sleep=_log_retry,
        )
        try:
            return retrying(self._once, method, url, headers, params, max_bytes)
        except RetryableResponse:
            raise
        except httpx.HTTPError as exc:
            raise SourceError(f"{method} {url} failed: {exc!r}") from exc

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RetryableResponse) and exc.retry_after is not None:
            if exc.retry_after > self.settings.max_retry_after_s:
                raise SourceError(
                    f"server asks to wait {exc.retry_after:.0f}s, more than the "
                    f"{self.settings.max_retry_after_s:.0f}s allowed"
                ) from exc
            return exc.retry_after
        jitter = wait_random_exponential(
            multiplier=self.settings.backoff_base_s, max=self.settings.backoff_max_s
        )
        return float(jitter(state))

    def _gate(self, url: str) -> _HostGate:
        host = urlsplit(url).netloc.lower()
        with self._gates_lock:
            return self._gates.setdefault(host, _HostGate(host))

    def _once(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str | int] | None,
        max_bytes: int | None,
    ) -> HttpResponse:
        cap = max_bytes if max_bytes is not None else self.settings.max_document_bytes
        gate = self._gate(url)
        with gate.lock:
            delay = gate.not_before - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                self.requests_sent += 1
                with self._client.stream(method, url, headers=headers, params=params) as reply:
                    content = b"" if method == "HEAD" else _read_capped(reply, cap)
                    response = HttpResponse(
                        str(reply.url), reply.status_code, reply.headers, content
                    )
            finally:
                gate.not_before = time.monotonic() + max(gate.min_delay, self.settings.min_delay_s)
            pause = rate_limit_pause(response.headers)
            if pause > 0:
                log.info("%s is out of requests; pausing it %.1fs", gate.host, pause)
                gate.not_before = max(gate.not_before, time.monotonic() + pause)
        if response.status in RETRY_STATUSES:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise RetryableResponse(url, response.status, retry_after)
        return response


def _read_capped(reply: httpx.Response, cap: int) -> bytes:
    declared = reply.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise OverCapError(f"{reply.url} declares {declared} bytes, over the {cap}-byte cap")
    chunks = []
    total = 0
    for chunk in reply.iter_bytes():
        total += len(chunk)
        if total > cap:
            raise OverCapError(f"{reply.url} sent more than the {cap}-byte cap")
        chunks.append(chunk)
    return b"".join(chunks)


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, RetryableResponse | httpx.TransportError)


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    log.info("retrying after %r (attempt %d)", exc, state.attempt_number)
