"""What the app opens once at start-up and shares between requests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from anyio import CapacityLimiter
from sqlalchemy import Engine

from manualqa.answer import AnswerEngine
from manualqa.config import Settings
from manualqa.index.base import IndexReader
from manualqa.llm import LLMClient
from manualqa.retrieval import Retriever
from serving.ratelimit import RateLimiter
from sql import catalog
from sql.access import CatalogAccess
from sql.db import session_scope
from sql.ledger import LedgerWriter
from sql.text_to_sql import TextToSql

log = logging.getLogger(__name__)


@dataclass
class AppState:
    settings: Settings
    llm: LLMClient
    index: IndexReader
    retriever: Retriever
    answers: AnswerEngine
    engine: Engine
    access: CatalogAccess  # per-request key and governance checks, one round trip each
    ledger: LedgerWriter  # usage and audit rows, written off the request path
    text_to_sql: TextToSql
    limiter: RateLimiter | None = None
    request_threads: CapacityLimiter | None = None  # set in the lifespan (needs the event loop)
    jwt_key: str | None = None  # verifies bearer JWTs; None when they are not accepted

    async def follow_index(self) -> None:
        """Switch to each newly published index version, without blocking requests."""
        while True:
            await asyncio.sleep(self.settings.serving.reload_interval_s)
            try:
                before = self.index.version
                await asyncio.to_thread(self.index.refresh)
                if self.index.version != before:
                    await asyncio.to_thread(self.reload_products)
            except Exception:  # keep serving the version we have; the next tick retries
                log.exception("index refresh failed")

    def reload_products(self) -> None:
        """Re-read the manuals' names and editions after the index changed."""
        with session_scope(self.engine) as session:
            self.answers.use_profiles(catalog.manual_profiles(session))

    def close(self) -> None:
        self.ledger.close()  # before the engine goes: it writes what is still queued
        self.index.close()
        with contextlib.suppress(Exception):
            self.engine.dispose()
        with contextlib.suppress(Exception):
            self.access.dispose()
        with contextlib.suppress(Exception):
            self.text_to_sql.readonly_engine.dispose()
