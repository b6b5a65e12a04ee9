"""Rate limits per key and per client IP: exhaustion gives 429 with Retry-After, the budget
comes back after it; counted in memory, or in the real Redis on 127.0.0.1:6379 where every
worker shares the count. One app at a time: Qdrant local mode lets a process open a
snapshot once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from fastapi.testclient import TestClient

from manual_assets_tests.serving.conftest import make_key
from serving.app import create_app
from serving.ratelimit import Budget, MemoryBuckets, RateLimited, RateLimiter, RedisBuckets

REDIS_URL = "redis://127.0.0.1:6379/9"  # this suite's own database number
SEARCH = {"query": "How do I reset the Wi-Fi?", "top_k": 1}


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_a_bucket_allows_a_burst_of_its_size_then_its_refill_rate(store):
    budget = Budget.parse("4 per 2 seconds")  # 4 at once, then one every 0.5 s
    buckets = MemoryBuckets() if store == "memory" else RedisBuckets(REDIS_URL)
    key = f"manualqa-rate:test:{time.time_ns()}"
    try:
        assert [buckets.take(key, budget) for _ in range(4)] == [0, 0, 0, 0]
        wait = buckets.take(key, budget)
        assert 0.4 < wait <= 0.5
        time.sleep(wait + 0.05)
        assert buckets.take(key, budget) == 0
        assert buckets.take(key, budget) > 0  # the refused take spent nothing; this one, all
        assert buckets.take(f"{key}:other", budget) == 0  # each key has its own bucket
    finally:
        if store == "redis":
            redis.Redis.from_url(REDIS_URL).delete(key, f"{key}:other")


def test_memory_forgets_refilled_buckets_past_its_key_limit(monkeypatch):
    monkeypatch.setattr(MemoryBuckets, "MAX_KEYS", 10)
    buckets = MemoryBuckets()
    fast, slow = Budget.parse("100/second"), Budget.parse("1/hour")
    assert buckets.take("spent", slow) == 0  # empty for an hour: must be kept
    for i in range(10):
        assert buckets.take(f"ip-{i}", fast) == 0  # full again in 0.01 s
    assert len(buckets._buckets) == 11  # over the limit, but none has refilled yet
    time.sleep(1.05)  # forgetting runs at most once a second
    assert buckets.take("one-more", fast) == 0  # 12 keys: the refilled ones go
    assert buckets.take("spent", slow) > 3000
    assert len(buckets._buckets) == 2  # "spent" and "one-more"


@contextmanager
def _api(demo_pipeline, per_key: str, per_ip: str, storage: str = "memory://") -> Iterator:
    settings = demo_pipeline.settings
    limits = settings.serving.rate_limits.model_copy(
        update={"per_key": per_key, "per_ip": per_ip, "storage": storage}
    )
    serving = settings.serving.model_copy(update={"rate_limits": limits})
    with TestClient(create_app(settings.model_copy(update={"serving": serving}))) as client:
        yield client


@pytest.fixture
def url(demo_pipeline) -> str:
    return demo_pipeline.settings.database_url.get_secret_value()


def _spend(api, headers: dict[str, str], n: int) -> list[int]:
    return [api.post("/v1/search", json=SEARCH, headers=headers).status_code for _ in range(n)]


def test_a_key_that_spends_its_budget_gets_429_then_recovers(demo_pipeline, url):
    first, second = make_key(url, ["search"]), make_key(url, ["search"])
    with _api(demo_pipeline, per_key="3 per 2 seconds", per_ip="1000/minute") as api:
        assert _spend(api, first.headers, 3) == [200, 200, 200]
        refused = api.post("/v1/search", json=SEARCH, headers=first.headers)
        assert refused.status_code == 429
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 2
        assert refused.json()["error"] == "rate_limited"
        assert _spend(api, second.headers, 1) == [200]  # another key has its own budget
        time.sleep(retry_after + 0.1)
        assert _spend(api, first.headers, 1) == [200]


def test_one_client_ip_shares_one_budget_across_keys_and_failed_logins(demo_pipeline, url):
    keys = [make_key(url, ["search"]) for _ in range(3)]
    with _api(demo_pipeline, per_key="1000/minute", per_ip="5/minute") as api:
        assert [s for k in keys for s in _spend(api, k.headers, 1)] == [200, 200, 200]
        guesses = [
            api.post("/v1/search", json=SEARCH, headers={"X-API-Key": "guess"}).status_code
            for _ in range(3)
        ]
        assert guesses == [401, 401, 429]  # guessing keys spends the IP's budget
        assert _spend(api, keys[0].headers, 1) == [429]
        assert api.get("/healthz").status_code == 200  # health checks are never limited


def test_counts_in_redis_are_shared_by_every_worker(demo_pipeline, url):
    credential = make_key(url, ["search"])
    client = redis.Redis.from_url(REDIS_URL)
    try:
        with _api(demo_pipeline, "2/minute", "1000/minute", storage=REDIS_URL) as api:
            assert _spend(api, credential.headers, 3) == [200, 200, 429]
            assert any(client.scan_iter("manualqa-rate*"))
            # A second worker (its own limiter on the same Redis) sees the spent budget.
            other_worker = RateLimiter.from_settings(
                demo_pipeline.settings.serving.rate_limits.model_copy(
                    update={"per_key": "2/minute", "storage": REDIS_URL}
                )
            )
            assert other_worker is not None
            with pytest.raises(RateLimited):
                other_worker.check_key(f"key:{credential.key_id}")
    finally:
        for key in client.scan_iter("manualqa-rate*"):
            client.delete(key)
        client.close()


def test_an_unreachable_limit_store_refuses_with_503_and_is_not_ready(demo_pipeline, url):
    credential = make_key(url, ["search"])
    with _api(demo_pipeline, "10/minute", "10/minute", storage="redis://127.0.0.1:1/0") as api:
        response = api.post("/v1/search", json=SEARCH, headers=credential.headers)
        ready = api.get("/readyz")
    assert response.status_code == 503 and response.json()["error"] == "unavailable"
    assert ready.status_code == 503 and "rate_limits" in ready.json()["detail"]
