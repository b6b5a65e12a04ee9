"""Liveness and readiness."""

from fastapi import APIRouter, Response, status
from sqlalchemy import text

from manualqa.index.base import IndexNotPublished
from serving.deps import StateDep
from serving.schemas import HealthResponse, ReadyResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse)
def healthz() -> HealthResponse:
    """The process is up."""
    return HealthResponse(status="ok")


@router.get(
    "/readyz",
    response_model=ReadyResponse,
    responses={503: {"model": ReadyResponse, "description": "not ready, and why"}},
)
def readyz(state: StateDep, response: Response) -> ReadyResponse:
    """Ready when a published index is loaded, and the catalog database and the rate
    limiter's storage answer."""
    detail: dict[str, str] = {}
    points: int | None = None
    try:
        points = state.index.count()
    except IndexNotPublished as exc:
        detail["index"] = str(exc)
    database = True
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready", reported as is
        database = False
        detail["database"] = f"{type(exc).__name__}: {exc}"[:300]
    limits = state.limiter is None or state.limiter.available()
    if not limits:
        detail["rate_limits"] = "the rate limiter's storage does not answer"
    ready = points is not None and database and limits
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return ReadyResponse(
        ready=ready,
        index_version=state.index.version,
        index_points=points,
        database=database,
        detail=detail,
    )
