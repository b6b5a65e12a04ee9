"""A local OpenAI-compatible server standing in for paid model APIs (pytest plugin).

It answers Chat Completions, Responses, embeddings and a Cohere-style `/rerank`, records
every request it gets and the client port of the connection it came on (it speaks
HTTP/1.1, so a client that keeps connections alive sends many requests on one), and
replies with what a test sets: `openai_stub.reply` (the answer text) and
`openai_stub.rerank` (a function scoring a document for a query). The model
`broken-model` fails with a 500.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class OpenAIStub:
    url: str = ""
    reply: str = "Hold the Wi-Fi button for 5 seconds [1]."
    rerank: Callable[[str, str], float] = lambda query, document: 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)  # the client port, per request


def _handler(stub: OpenAIStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # connections stay open between requests

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            stub.connections.append(self.client_address[1])
            stub.requests.append(
                {"path": self.path, "auth": self.headers.get("authorization"), **body}
            )
            if body.get("model") == "broken-model":
                self._send(500, {"error": {"message": "upstream failure", "type": "server_error"}})
            elif self.path.endswith("/embeddings"):
                self._send(200, _embeddings(body))
            elif self.path.endswith("/rerank"):
                self._send(200, _rerank(body, stub.rerank))
            elif self.path.endswith("/responses"):
                self._send(200, _response(body, stub.reply))
            else:
                self._send(200, _chat(body, stub.reply))

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _embeddings(body: dict[str, Any]) -> dict[str, Any]:
    vectors = [[1.0, float(i), 0.0] for i, _ in enumerate(body["input"])]
    return {
        "object": "list",
        "model": body["model"],
        "data": [
            {"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)
        ],
        "usage": {"prompt_tokens": 7, "total_tokens": 7},
    }


def _rerank(body: dict[str, Any], score: Callable[[str, str], float]) -> dict[str, Any]:
    documents = [d if isinstance(d, str) else d.get("text", "") for d in body["documents"]]
    results = [
        {"index": i, "relevance_score": score(body["query"], d)} for i, d in enumerate(documents)
    ]
    results.sort(key=lambda r: -r["relevance_score"])
    return {
        "id": uuid.uuid4().hex,
        "results": results,
        "meta": {"billed_units": {"search_units": 1}},
    }


def _response(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": f"resp_{uuid.uuid4().hex}",
        "object": "response",
        "created_at": 0,
        "model": body["model"],
        "status": "completed",
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "usage": {"input_tokens": 900, "output_tokens": 90, "total_tokens": 990},
    }


def _chat(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": 0,
        "model": body["model"],
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
        ],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100},
    }


@pytest.fixture
def openai_stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIStub]:
    stub = OpenAIStub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("COHERE_API_KEY", "test-not-a-real-key")
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield stub
    server.shutdown()
