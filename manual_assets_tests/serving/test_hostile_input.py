"""Hostile input over real HTTP (uvicorn): oversized bodies refused before they are read,
malformed and overlong requests refused with short error bodies that echo nothing."""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator

import httpx
import pytest

from manual_assets_tests.serving.live import serve_in_thread
from serving.app import create_app

MARKER = "ZQX-hostile-marker-"


@pytest.fixture(scope="module")
def server(demo_pipeline) -> Iterator[tuple[str, int]]:
    with serve_in_thread(create_app(demo_pipeline.settings)) as address:
        yield address


@pytest.fixture(scope="module")
def base(server) -> str:
    return f"http://{server[0]}:{server[1]}"


@pytest.fixture(scope="module")
def cap(demo_pipeline) -> int:
    return demo_pipeline.settings.serving.max_body_bytes


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_a_declared_oversize_body_is_refused_before_it_is_sent(server, api_key):
    """Headers declaring 50 MB, and not one byte of the body: the 413 comes anyway."""
    with socket.create_connection(server, timeout=10) as sock:
        sock.sendall(
            b"POST /v1/search HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {api_key.key}\r\n".encode()
            + b"Content-Length: 50000000\r\n\r\n"
        )
        head = _read_response(sock)
    assert head.startswith(b"HTTP/1.1 413"), head[:200]


def test_a_streamed_oversize_body_is_cut_off_at_the_cap(server, api_key, cap):
    """A chunked body with no length: refused once it passes the cap, long before its end."""
    chunk = b"x" * 16_384
    sent = 0
    with socket.create_connection(server, timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32_768)
        sock.sendall(
            b"POST /v1/ask HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {api_key.key}\r\n".encode()
            + b"Transfer-Encoding: chunked\r\n\r\n"
        )
        while sent < 50_000_000:
            # Paced, so what the kernel buffers does not hide when the server answered.
            readable, _, _ = select.select([sock], [], [], 0.02)
            if readable:
                break
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        head = _read_response(sock)
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert sent < cap + 16 * len(chunk)  # answered near the cap, nowhere near 50 MB


def test_a_two_megabyte_query_is_refused_without_echoing_it(base, api_key):
    query = MARKER + "a" * 2_000_000
    response = httpx.post(
        f"{base}/v1/search", json={"query": query}, headers=api_key.headers, timeout=30
    )
    assert response.status_code == 413
    assert len(response.content) < 4096 and MARKER not in response.text
    assert response.json()["error"] == "body_too_large"


def _hostile_bodies() -> list[tuple[str, bytes]]:
    # The marker at the end: a field's name may be named back, clipped to a few dozen chars.
    long_text = "b" * 20_000 + MARKER
    return [
        ("overlong query", json.dumps({"query": long_text}).encode()),
        ("overlong vendor", json.dumps({"query": "x", "vendor": long_text}).encode()),
        ("huge unknown field name", json.dumps({"query": "x", long_text: 1}).encode()),
        ("many unknown fields", json.dumps({f"f{i}{MARKER}": i for i in range(2000)}).encode()),
        ("wrong types", json.dumps({"query": [long_text], "top_k": long_text}).encode()),
        ("not JSON", (MARKER + "{not json").encode()),
        ("deep nesting", b"[" * 50_000),
        ("an array", json.dumps([long_text]).encode()),
        ("invalid UTF-8", b'{"query": "\xff\xfe' + MARKER.encode() + b'"}'),
        ("null", b"null"),
        ("empty", b""),
    ]


@pytest.mark.parametrize("path", ["/v1/search", "/v1/ask", "/v1/sql", "/v1/query"])
@pytest.mark.parametrize(("what", "body"), _hostile_bodies(), ids=[w for w, _ in _hostile_bodies()])
def test_malformed_bodies_get_a_short_4xx_that_echoes_nothing(base, api_key, path, what, body):
    response = httpx.post(
        f"{base}{path}",
        content=body,
        headers={**api_key.headers, "content-type": "application/json"},
        timeout=30,
    )
    assert 400 <= response.status_code < 500, (what, response.status_code, response.text[:300])
    assert len(response.content) < 4096, what
    text = response.text
    assert MARKER not in text and "b" * 100 not in text
    assert "Traceback" not in text and "site-packages" not in text
    assert "/work/" not in text and "/tmp/" not in text
    payload = response.json()
    assert set(payload) == {"error", "detail"} and payload["detail"]


def test_unknown_paths_and_methods_answer_in_the_same_shape(base):
    missing = httpx.get(f"{base}/v1/{MARKER}{'c' * 5000}", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert MARKER not in missing.text
    wrong = httpx.get(f"{base}/v1/search", timeout=10)
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"


def test_an_overlong_client_id_header_is_refused(base, api_key):
    response = httpx.post(
        f"{base}/v1/ask",
        json={"question": "How do I reset the Wi-Fi?"},
        headers={"X-Client-Id": MARKER + "d" * 200, **api_key.headers},
        timeout=10,
    )
    assert response.status_code == 422 and MARKER not in response.text
