"""The serving API: `create_app()` opens clients once in its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from manualqa.answer import build_engine
from manualqa.config import Settings, get_settings
from manualqa.index.base import IndexNotPublished, VectorIndex
from manualqa.llm import LLMClient
from manualqa.query_router import QueryRefused
from manualqa.questions import QuestionRejected
from manualqa.retrieval import QueryError, open_retriever
from serving.auth import jwt_key
from serving.errors import API_ERRORS, error_response, install_error_handlers
from serving.middleware import BodyCapMiddleware, SecurityHeadersMiddleware
from serving.ratelimit import RateLimiter
from serving.routers import ask, catalog_sql, health, query, search, webhooks
from serving.state import AppState
from sql import catalog, db
from sql.access import CatalogAccess
from sql.ledger import LedgerWriter
from sql.readonly import make_readonly_engine, readonly_url
from sql.text_to_sql import CatalogQuestionRefused, TextToSql

log = logging.getLogger(__name__)


def build_state(settings: Settings, index: VectorIndex | None = None) -> AppState:
    key = jwt_key(settings.serving.jwt)  # refuse to start without it, before anything opens
    url = db.resolve_database_url(settings)
    db.check_schema(url)  # `manualqa migrate` changes the schema; the API only uses it
    engine = db.make_engine(url)
    ledger = LedgerWriter(engine)
    llm = LLMClient(settings.llm, settings.embedding, sink=ledger.record_call)
    # The resolved catalog URL (embedded server included) serves a PostgreSQL index too.
    # Opening refuses an index built with another embedding model or dimension.
    index_settings = settings.model_copy(update={"database_url": SecretStr(url)})
    retriever, reader = open_retriever(index_settings, llm, index)
    llm.embed(["warm-up"])  # load the embedding model before the first request
    with db.session_scope(engine) as session:
        profiles = catalog.manual_profiles(session)
    stored = catalog.unit_vector_lookup(engine, settings.embedding.model)
    answers = build_engine(settings.answer, llm, retriever, profiles, stored)
    if reader.version is None:
        log.warning("no index published yet; /readyz stays 503 until one is")
    text_to_sql = TextToSql(
        engine, make_readonly_engine(readonly_url(settings, url)), settings.text_to_sql
    )
    return AppState(
        settings=settings,
        llm=llm,
        index=reader,
        retriever=retriever,
        answers=answers,
        engine=engine,
        access=CatalogAccess(
            db.make_engine(url, pool_pre_ping=False, isolation_level="AUTOCOMMIT")
        ),
        ledger=ledger,
        text_to_sql=text_to_sql,
        limiter=RateLimiter.from_settings(settings.serving.rate_limits),
        jwt_key=key,
    )


def create_app(settings: Settings | None = None, index: VectorIndex | None = None) -> FastAPI:
    """The API; `index` replaces the configured index (an in-process Qdrant client that a
    writer in the same process shares, say)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await asyncio.to_thread(build_state, settings, index)
        state.request_threads = anyio.CapacityLimiter(settings.serving.request_threads)
        app.state.platform = state
        follower = asyncio.create_task(state.follow_index())
        try:
            yield
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            state.close()

    public_docs = settings.environment != "production"
    app = FastAPI(
        title="Manual QA",
        version="0.1.0",
        summary="Search and cited answers over product owner manuals.",
        lifespan=lifespan,
        docs_url="/docs" if public_docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if public_docs else None,
    )
    serving = settings.serving
    # Added innermost first: the security headers wrap every response, the 413 included.
    app.add_middleware(
        BodyCapMiddleware, max_bytes=serving.max_body_bytes, exempt_prefixes=["/v1/webhooks/"]
    )
    if serving.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=serving.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "X-Client-Id", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware)
    install_error_handlers(app)
    app.include_router(health.router)
    for authenticated in (search.router, ask.router, catalog_sql.router, query.router):
        app.include_router(authenticated, responses=API_ERRORS)
    app.include_router(webhooks.router)  # authenticated by each partner's HMAC signature

    @app.exception_handler(QueryError)
    async def _bad_query(request: Request, exc: QueryError) -> JSONResponse:
        return error_response(422, str(exc))

    @app.exception_handler(QuestionRejected)
    async def _bad_question(request: Request, exc: QuestionRejected) -> JSONResponse:
        return error_response(422, str(exc))

    @app.exception_handler(CatalogQuestionRefused)
    async def _sql_refused(request: Request, exc: CatalogQuestionRefused) -> JSONResponse:
        detail = {"reason": exc.reason, "stage": exc.stage}
        return error_response(422, detail)

    @app.exception_handler(QueryRefused)
    async def _query_refused(request: Request, exc: QueryRefused) -> JSONResponse:
        return error_response(422, str(exc))

    @app.exception_handler(IndexNotPublished)
    async def _no_index(request: Request, exc: IndexNotPublished) -> JSONResponse:
        return error_response(503, str(exc))

    return app
