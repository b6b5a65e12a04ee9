"""One JSON shape for every error: `{"error": <code>, "detail": <message or list>}`.

Error bodies never echo the request (a 2 MB field gives a short message, not the field
back), never carry a stack trace or a server path, and stay under `MAX_ERROR_BYTES`
whatever the input.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from serving.schemas import ErrorResponse

log = logging.getLogger(__name__)

MAX_ERROR_BYTES = 3_500
MAX_MESSAGE_CHARS = 300
MAX_LOC_CHARS = 60
MAX_FIELD_ERRORS = 10
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


WHY = {
    401: "no credential, or an unknown, invalid or revoked one",
    403: "the credential lacks the scope, or is restricted away from this",
    413: "the body is over `serving.max_body_bytes`",
    422: "the request is not valid: the fields, or a question the API refuses",
    429: "the key's or the client IP's rate limit is spent; see Retry-After",
    503: "no index snapshot is published yet, or the rate limiter's storage is down",
}
API_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": why} for status, why in WHY.items()
}


def _clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip_detail(detail: Any) -> Any:
    if isinstance(detail, str):
        return _clip(detail)
    if isinstance(detail, dict):
        return {_clip(str(k), MAX_LOC_CHARS): _clip_detail(v) for k, v in list(detail.items())[:10]}
    if isinstance(detail, list):
        return [_clip_detail(v) for v in detail[:MAX_FIELD_ERRORS]]
    if detail is None or isinstance(detail, int | float | bool):
        return detail
    return _clip(str(detail))


def error_body(status: int, detail: Any) -> bytes:
    """The JSON error body for `status`, clipped to stay under MAX_ERROR_BYTES."""
    code = CODES.get(status, "client_error" if status < 500 else "server_error")
    body = json.dumps({"error": code, "detail": _clip_detail(detail)}).encode()
    if len(body) > MAX_ERROR_BYTES:
        body = json.dumps({"error": code, "detail": _clip(str(detail), 500)}).encode()
    return body


def error_response(
    status: int, detail: Any, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    response = JSONResponse(status_code=status, content=None, headers=headers)
    response.body = error_body(status, detail)
    response.headers["content-length"] = str(len(response.body))
    return response


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Where and what, without the offending input or the validator's context."""
    return [
        {
            "loc": [_clip(str(part), MAX_LOC_CHARS) for part in error.get("loc", ())][:6],
            "msg": _clip(str(error.get("msg", "invalid"))),
            "type": _clip(str(error.get("type", "value_error")), MAX_LOC_CHARS),
        }
        for error in exc.errors()[:MAX_FIELD_ERRORS]
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, _field_errors(exc))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal error; it has been logged")
