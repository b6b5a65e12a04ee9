"""Real HTTP servers on 127.0.0.1 for the source tests: a route table of handlers,
and a log of every request they received."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    target: str = ""  # the request target as sent: path and encoded query
    at: float = field(default_factory=time.monotonic)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Reply]


@dataclass
class Server:
    base_url: str
    routes: dict[str, Handler] = field(default_factory=dict)
    log: list[Request] = field(default_factory=list)

    def requests(self, path: str, method: str | None = None) -> list[Request]:
        return [r for r in self.log if r.path == path and (method is None or r.method == method)]


def _handler_class(server: Server) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(
                self.command,
                parts.path,
                parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()},
                body,
                self.path,
            )
            server.log.append(request)
            handler = server.routes.get(parts.path)
            reply = handler(request) if handler else Reply(404, b"not found")
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if "Content-Length" not in reply.headers:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD" and reply.status not in (204, 304):
                self.wfile.write(reply.body)

        do_GET = do_POST = do_HEAD = _serve

        def log_message(self, format: str, *args: object) -> None:
            return None

    return _Handler


@contextmanager
def http_server() -> Iterator[Server]:
    """A threaded HTTP server on a free 127.0.0.1 port, stopped afterwards."""
    server = Server(base_url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(server))
    httpd.daemon_threads = True
    server.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
