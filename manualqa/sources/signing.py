"""HMAC-SHA256 signatures over a timestamp and a body, for partner webhooks and for
vendor APIs that want signed requests.

The signed message is `<timestamp>.<body>` (for a request, the method and path come
before the body: `<timestamp>.<METHOD> <path>\\n<body>`); the signature header holds
`sha256=<hex digest>`.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def signature(secret: bytes, timestamp: str, body: bytes, target: str | None = None) -> str:
    """The `sha256=<hex>` signature of `body` at `timestamp` (and `target`, for requests)."""
    message = timestamp.encode() + b"." + (f"{target}\n".encode() if target else b"") + body
    return PREFIX + hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, given: str) -> bool:
    """Whether `given` is the signature of `body` at `timestamp`, compared in constant time."""
    return hmac.compare_digest(signature(secret, timestamp, body).encode(), given.strip().encode())
