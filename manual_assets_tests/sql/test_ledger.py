"""The ledger writer stores usage and audit rows off the request path and loses none of
them on a graceful stop."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from manualqa.usage import LLMCall
from sql.ledger import LedgerWriter
from sql.models import AuditLog, LLMCallRecord


def _call(client_id: str) -> LLMCall:
    return LLMCall("embedding", "m", None, None, 3, 0, 0.0, True, 0.1, client_id, None)


def test_close_writes_every_queued_row_with_the_time_it_was_queued(db_session, db_engine):
    started = datetime.now(UTC)
    writer = LedgerWriter(db_engine)
    for i in range(400):
        writer.record_call(_call(f"client-{i}"))
        writer.record_text_reads(f"client-{i}", "text.read.search", {"m1": 2, "m2": 1})
    queued = datetime.now(UTC)
    writer.close()

    calls = db_session.scalar(select(func.count()).select_from(LLMCallRecord))
    audits = db_session.execute(select(AuditLog.subject, AuditLog.detail, AuditLog.at)).all()
    assert calls == 400
    assert len(audits) == 800
    assert {(a.subject, a.detail["passages"]) for a in audits} == {("m1", 2), ("m2", 1)}
    assert all(started <= a.at <= queued for a in audits)


def test_flush_returns_once_earlier_rows_are_stored(db_session, db_engine):
    writer = LedgerWriter(db_engine)
    try:
        writer.record_text_reads("reader", "text.read.ask", {"m1": 1})
        writer.flush()
        actors = db_session.scalars(select(AuditLog.actor)).all()
        assert actors == ["reader"]
    finally:
        writer.close()
