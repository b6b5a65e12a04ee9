"""A repeated /v1/ask is answered from LiteLLM's Redis cache (an app of its own, configured
for Redis)."""

import ast

import redis
from fastapi.testclient import TestClient

from manualqa.llm.cache import NAMESPACE
from serving.app import create_app

REDIS_URL = "redis://127.0.0.1:6379/9"  # this suite's own database number


def _entries(client: redis.Redis) -> dict[bytes, dict]:
    """The cache's entries: LiteLLM stores `{"timestamp", "response"}` as a Python literal."""
    return {
        key: ast.literal_eval(client.get(key).decode())["response"]
        for key in client.scan_iter(f"{NAMESPACE}:*")
    }


def test_a_repeated_ask_is_served_from_redis(demo_pipeline, api_key):
    client = redis.Redis.from_url(REDIS_URL)
    settings = demo_pipeline.settings.model_copy(
        update={
            "llm": demo_pipeline.settings.llm.model_copy(
                update={"cache": "redis", "redis_url": REDIS_URL}
            )
        }
    )
    question = "How often should I replace the HEPA filter on the AC-200?"
    for key in client.scan_iter(f"{NAMESPACE}:*"):  # DB 9 is this suite's alone
        client.delete(key)
    try:
        with TestClient(create_app(settings), headers=api_key.headers) as api:
            first = api.post("/v1/ask", json={"question": question}).json()
            after_first = _entries(client)
            second = api.post("/v1/ask", json={"question": question}).json()
            if second["index_version"] != first["index_version"]:
                # The app caught up with a newer publication between the two: the passages,
                # and so the request, may differ. Ask again on the version it now serves.
                first, second = second, api.post("/v1/ask", json={"question": question}).json()
                after_first = _entries(client)
            after_second = _entries(client)
        assert (first["cached"], second["cached"]) == (False, True)
        assert second["answer"] == first["answer"] and not first["abstained"]
        assert second["cost_usd"] == 0.0
        # The request's calls: the question's embedding (retrieval and the answer engine
        # each ask for it; the second is a hit already) and the answer; the second time,
        # every one of them is a hit.
        assert first["usage"]["calls"] == second["usage"]["calls"] >= 2
        assert 0 < first["usage"]["cached"] < first["usage"]["calls"]
        assert first["usage"]["prompt_tokens"] > 0
        assert second["usage"]["cached"] == second["usage"]["calls"]
        assert second["usage"]["prompt_tokens"] == second["usage"]["cost_usd"] == 0
        # The first ask stored the answer model's reply and the question's embedding; the
        # second read them back and stored nothing.
        replies = [e for e in after_first.values() if e.get("model") == first["model"]]
        assert len(replies) == 1 and replies[0]["text"]
        assert any("vector" in e for e in after_first.values())
        assert after_second == after_first
        assert all(0 < client.ttl(k) <= settings.llm.cache_ttl_s for k in after_second)
    finally:
        for key in client.scan_iter(f"{NAMESPACE}:*"):
            client.delete(key)
        client.close()
