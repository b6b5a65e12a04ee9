"""The LLM layer through the real LiteLLM code path: the offline provider, a local
OpenAI-compatible stub standing in for a paid API, and the Redis response cache."""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import numpy as np
import pytest

from manualqa.config import EmbeddingSettings, LLMRoleSettings, LLMSettings
from manualqa.llm import LLMClient
from manualqa.llm.cache import MemoryCache, RedisCache
from manualqa.prompts import PromptPassage, render_answer_prompt

MESSAGES = render_answer_prompt(
    "How long do I hold the Wi-Fi button on the AC-200 to reset it?",
    [
        PromptPassage(
            1,
            "acme__ac-200",
            "AC-200",
            "9",
            "4.3 Resetting Wi-Fi",
            "Hold the Wi-Fi button for 5 seconds until the LED blinks amber.",
        )
    ],
)


@pytest.fixture(scope="module")
def offline() -> LLMClient:
    return LLMClient(LLMSettings(), EmbeddingSettings(), cache=MemoryCache())


def test_offline_embeddings_are_unit_vectors_that_rank_paraphrases_first(offline):
    vectors = offline.embed(
        [
            "How do I reset the Wi-Fi connection?",
            "To reset wireless networking, hold the Wi-Fi button.",
            "Descale the espresso boiler every month.",
        ]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_offline_answer_cites_and_repeats_come_from_cache(offline):
    first = offline.complete("answer", MESSAGES)
    again = offline.complete("answer", MESSAGES)
    assert "5 seconds" in first.text and first.text.endswith("[1]")
    assert (first.cached, again.cached) == (False, True)
    assert again.text == first.text
    usage = offline.ledger.snapshot()["answer"]
    assert usage["calls"] == 2 and usage["cached"] == 1 and usage["cost_usd"] == 0.0


def test_unknown_role_is_refused(offline):
    with pytest.raises(KeyError, match="judge"):
        offline.complete("judge", MESSAGES)


class _OpenAIStub(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict]] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        type(self).requests.append(
            {"path": self.path, "auth": self.headers.get("authorization"), **body}
        )
        payload = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {
                        "role": "assistant",
                        "content": "Hold the Wi-Fi button for 5 seconds [1].",
                    },
                }
            ],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100},
        }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def openai_stub(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OpenAIStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    _OpenAIStub.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_a_hosted_model_per_role_is_called_through_litellm_and_priced(openai_stub):
    llm = LLMSettings(answer=LLMRoleSettings(model="openai/gpt-4o-mini", api_base=openai_stub))
    client = LLMClient(llm, EmbeddingSettings(), cache=MemoryCache())
    completion = client.complete("answer", MESSAGES)

    assert completion.text == "Hold the Wi-Fi button for 5 seconds [1]."
    sent = _OpenAIStub.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["model"] == "gpt-4o-mini"
    assert sent["auth"] == "Bearer sk-test-not-a-real-key"
    assert sent["messages"][0]["role"] == "system"
    assert completion.cost_usd is not None and completion.cost_usd > 0
    assert client.ledger.snapshot()["answer"]["prompt_tokens"] == 1000


def test_redis_cache_is_shared_between_clients(openai_stub):
    namespace = uuid.uuid4().hex  # the question differs per run, so no stale entry can answer
    messages = [*MESSAGES[:-1], {"role": "user", "content": MESSAGES[-1]["content"] + namespace}]
    llm = LLMSettings(answer=LLMRoleSettings(model="openai/gpt-4o-mini", api_base=openai_stub))
    first = LLMClient(
        llm, EmbeddingSettings(), cache=RedisCache("redis://127.0.0.1:6379/0", ttl_s=60)
    )
    second = LLMClient(
        llm, EmbeddingSettings(), cache=RedisCache("redis://127.0.0.1:6379/0", ttl_s=60)
    )
    assert first.complete("answer", messages).cached is False
    assert second.complete("answer", messages).cached is True
    assert len(_OpenAIStub.requests) == 1
