"""Partner webhooks: signed pushes and withdrawals of manuals, written durably to the inbox.

The HMAC signature is the authentication of this endpoint. The body cap is enforced
before the body is read in full: a declared `Content-Length` over the cap is refused
at once, and a streamed body is cut off as soon as it passes the cap. Every outcome
is written to the audit log.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from manualqa.config import Settings
from manualqa.objectstore import open_object_store
from manualqa.sources.base import SourceError
from manualqa.sources.inbox import DeliveryRefused, Inbox, TooLarge
from manualqa.sources.registry import partner_inbox
from serving.deps import StateDep
from serving.schemas import WebhookAcceptedResponse
from sql import db
from sql.catalog import record_audit

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

REFUSALS: dict[int | str, dict[str, Any]] = {
    status: {"description": what}
    for status, what in [
        (401, "missing or wrong signature"),
        (404, "no such partner"),
        (409, "replayed: outside the replay window, or the idempotency key was used"),
        (413, "body over the partner's cap"),
        (422, "not a valid delivery"),
        (503, "the partner's secret is not configured"),
    ]
}


def _inbox(request: Request, settings: Settings, partner: str) -> Inbox:
    """The partner's inbox, opened once per app."""
    inboxes: dict[str, Inbox] = request.app.state.__dict__.setdefault("inboxes", {})
    if partner not in inboxes:
        inboxes[partner] = partner_inbox(settings, partner, open_object_store(settings))
    return inboxes[partner]


async def _read_capped(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise TooLarge(f"the body declares {declared} bytes; this partner's cap is {cap}")
    chunks = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > cap:
            raise TooLarge(f"the body is over this partner's cap of {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/{partner}",
    status_code=202,
    response_model=WebhookAcceptedResponse,
    responses=REFUSALS,
)
async def receive_delivery(partner: str, request: Request, state: StateDep) -> Any:
    """Accept a signed delivery (a signed URL or the file itself) or a withdrawal of one
    of the partner's documents (`{"action": "withdraw", "document_id": ...}`) into the
    inbox."""
    settings = state.settings
    partner_settings = settings.sources.webhooks.get(partner)
    client = request.client.host if request.client else "unknown"
    actor = f"webhook:{partner}"

    def audit(action: str, detail: dict[str, Any]) -> None:
        with db.session_scope(state.engine) as session:
            record_audit(session, actor, action, partner, {"client": client, **detail})

    if partner_settings is None:
        await run_in_threadpool(audit, "webhook.unknown_partner", {})
        return JSONResponse(status_code=404, content={"detail": f"no partner {partner!r}"})
    try:
        inbox = _inbox(request, settings, partner)
        body = await _read_capped(request, partner_settings.max_body_bytes)
        inbox.verify(request.headers.get("x-timestamp"), request.headers.get("x-signature"), body)
        item = await run_in_threadpool(inbox.accept, request.headers.get("idempotency-key"), body)
    except DeliveryRefused as exc:
        log.warning("webhook %s refused (%d): %s", partner, exc.status, exc.message)
        await run_in_threadpool(
            audit, "webhook.refused", {"status": exc.status, "reason": exc.message}
        )
        return JSONResponse(status_code=exc.status, content={"detail": exc.message})
    except SourceError as exc:
        log.error("webhook %s cannot be served: %s", partner, exc)
        await run_in_threadpool(audit, "webhook.unavailable", {"reason": str(exc)})
        return JSONResponse(status_code=503, content={"detail": str(exc)})
    await run_in_threadpool(
        audit,
        "webhook.accepted",
        {
            "item": item.item_id,
            "action": item.action,
            "idempotency_key": item.idempotency_key,
            "document_id": item.document["document_id"],
        },
    )
    return WebhookAcceptedResponse(
        partner=partner,
        item_id=item.item_id,
        document_id=str(item.document["document_id"]),
        action=item.action,
        received_at=item.received_at,
    )
