"""The serving API: `create_app()` opens clients once in its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from manualqa.config import Settings, get_settings
from manualqa.index.base import IndexNotPublished
from manualqa.llm import LLMClient
from manualqa.query_router import QueryRefused
from manualqa.questions import QuestionRejected
from manualqa.retrieval import QueryError, open_retriever
from serving.routers import ask, catalog_sql, health, query, search, webhooks
from serving.state import AppState
from sql import db
from sql.readonly import make_readonly_engine, readonly_url
from sql.text_to_sql import CatalogQuestionRefused, TextToSql
from sql.usage import catalog_sink

log = logging.getLogger(__name__)


def build_state(settings: Settings) -> AppState:
    url = db.resolve_database_url(settings)
    db.check_schema(url)  # `manualqa migrate` changes the schema; the API only uses it
    engine = db.make_engine(url)
    llm = LLMClient(settings.llm, settings.embedding, sink=catalog_sink(engine))
    llm.embed(["warm-up"])  # load the embedding model before the first request
    # The resolved catalog URL (embedded server included) serves a PostgreSQL index too.
    index_settings = settings.model_copy(update={"database_url": SecretStr(url)})
    retriever, index = open_retriever(index_settings, llm)
    if index.version is None:
        log.warning("no index published yet; /readyz stays 503 until one is")
    text_to_sql = TextToSql(
        engine, make_readonly_engine(readonly_url(settings, url)), settings.text_to_sql
    )
    return AppState(
        settings=settings,
        llm=llm,
        index=index,
        retriever=retriever,
        engine=engine,
        text_to_sql=text_to_sql,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await asyncio.to_thread(build_state, settings)
        app.state.platform = state
        follower = asyncio.create_task(state.follow_index())
        try:
            yield
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            state.close()

    app = FastAPI(
        title="Manual QA",
        version="0.1.0",
        summary="Search and cited answers over product owner manuals.",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    app.include_router(search.router)
    app.include_router(ask.router)
    app.include_router(webhooks.router)
    app.include_router(catalog_sql.router)
    app.include_router(query.router)

    @app.exception_handler(QueryError)
    async def _bad_query(request: Request, exc: QueryError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(QuestionRejected)
    async def _bad_question(request: Request, exc: QuestionRejected) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(CatalogQuestionRefused)
    async def _sql_refused(request: Request, exc: CatalogQuestionRefused) -> JSONResponse:
        detail = {"reason": exc.reason, "stage": exc.stage}
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(QueryRefused)
    async def _query_refused(request: Request, exc: QueryRefused) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(IndexNotPublished)
    async def _no_index(request: Request, exc: IndexNotPublished) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})

    return app
