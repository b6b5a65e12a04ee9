"""What the app opens once at start-up and shares between requests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from sqlalchemy import Engine

from manualqa.config import Settings
from manualqa.index.base import IndexReader
from manualqa.llm import LLMClient
from manualqa.retrieval import Retriever
from sql.text_to_sql import TextToSql

log = logging.getLogger(__name__)


@dataclass
class AppState:
    settings: Settings
    llm: LLMClient
    index: IndexReader
    retriever: Retriever
    engine: Engine
    text_to_sql: TextToSql

    async def follow_index(self) -> None:
        """Switch to each newly published index version, without blocking requests."""
        while True:
            await asyncio.sleep(self.settings.serving.reload_interval_s)
            try:
                await asyncio.to_thread(self.index.refresh)
            except Exception:  # keep serving the version we have; the next tick retries
                log.exception("index refresh failed")

    def close(self) -> None:
        self.index.close()
        with contextlib.suppress(Exception):
            self.engine.dispose()
        with contextlib.suppress(Exception):
            self.text_to_sql.readonly_engine.dispose()
