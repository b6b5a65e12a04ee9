"""A repeated /v1/ask is answered from the Redis cache (an app of its own, configured for
Redis)."""

import redis
from fastapi.testclient import TestClient

from serving.app import create_app

REDIS_URL = "redis://127.0.0.1:6379/9"  # this suite's own database number


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
    for key in client.scan_iter("manualqa:llm:*"):  # DB 9 is this suite's alone
        client.delete(key)
    try:
        before = set(client.scan_iter("manualqa:llm:chat:*"))
        with TestClient(create_app(settings), headers=api_key.headers) as api:
            first = api.post("/v1/ask", json={"question": question}).json()
            second = api.post("/v1/ask", json={"question": question}).json()
            if second["index_version"] != first["index_version"]:
                # The app caught up with a newer publication between the two: the passages,
                # and so the request, may differ. Ask again on the version it now serves.
                first, second = second, api.post("/v1/ask", json={"question": question}).json()
        new_keys = set(client.scan_iter("manualqa:llm:chat:*")) - before
        assert (first["cached"], second["cached"]) == (False, True)
        assert second["answer"] == first["answer"] and not first["abstained"]
        assert new_keys and all(client.ttl(k) > 0 for k in new_keys)
    finally:
        for key in client.scan_iter("manualqa:llm:*"):
            client.delete(key)
        client.close()
