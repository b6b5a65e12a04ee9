"""Who is calling: API keys (hashed in the catalog) or bearer JWTs, scopes, restrictions.

Every endpoint but the health checks depends on `require(scope)`. The client IP's rate
limit is counted before the credentials are checked (so guessing keys costs budget),
the key's own limit after.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

import anyio.to_thread
import jwt
from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from manualqa.config import JwtSettings, read_secret
from manualqa.index.base import SearchFilters
from serving.deps import StateDep
from serving.state import AppState
from sql.access import CatalogView
from sql.api_keys import PREFIX, SCOPES, admitted, split_key

bearer_scheme = HTTPBearer(
    auto_error=False, description="An API key (`mqa_…`) or a JWT from the configured issuer."
)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: `id` is `key:<key id>` or `jwt:<subject>`; `view` is the
    catalog's governance state the request was admitted under."""

    id: str
    scopes: frozenset[str]
    view: CatalogView = field(compare=False)
    vendors: tuple[str, ...] = ()
    products: tuple[str, ...] = ()

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    @property
    def restricted(self) -> bool:
        return bool(self.vendors or self.products)


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=message,
        headers={"WWW-Authenticate": "Bearer"},
    )


def jwt_key(settings: JwtSettings) -> str | None:
    """The JWT verification key, when JWTs are enabled.

    Raises:
        ValueError: JWTs are enabled but the key's variable is not set.
    """
    if not settings.enabled:
        return None
    key = read_secret(settings.key_env)
    if not key:
        raise ValueError(f"serving.jwt is enabled but {settings.key_env} (or _FILE) is not set")
    return key


def _from_jwt(state: AppState, token: str) -> Principal:
    settings = state.settings.serving.jwt
    if state.jwt_key is None:
        raise _unauthorized("not an API key, and this API accepts no JWTs")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            state.jwt_key,
            algorithms=settings.algorithms,
            audience=settings.audience,
            issuer=settings.issuer,
            leeway=settings.leeway_s,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.InvalidTokenError as exc:
        raise _unauthorized(f"invalid token: {str(exc)[:200]}") from exc
    scopes = claims.get("scope", "")
    vendors, products = claims.get("vendors", []), claims.get("products", [])
    if not (isinstance(scopes, str) and _strings(vendors) and _strings(products)):
        raise _unauthorized("invalid token: scope must be a string, vendors and products lists")
    view, _ = state.access.read(None)
    return Principal(
        id=f"jwt:{str(claims['sub'])[:150]}",
        scopes=frozenset(scopes.split()) & set(SCOPES),
        view=view,
        vendors=tuple(vendors),
        products=tuple(products),
    )


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _from_api_key(state: AppState, key: str) -> Principal:
    parts = split_key(key)
    if parts is None:
        raise _unauthorized("unknown or revoked API key")
    key_id, secret = parts
    view, row = state.access.read(key_id)
    record = admitted(row, secret)
    if record is None:
        raise _unauthorized("unknown or revoked API key")
    return Principal(
        id=f"key:{record.key_id}",
        scopes=frozenset(record.scopes),
        view=view,
        vendors=record.vendors,
        products=record.products,
    )


async def authenticate(
    request: Request,
    state: StateDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    """The caller, from `Authorization: Bearer …` or `X-API-Key`; 401 without one.

    Checked on `serving.request_threads` (a catalog read), not the shared thread pool.
    """
    return await anyio.to_thread.run_sync(
        _authenticate, request, state, bearer, api_key, limiter=state.request_threads
    )


def _authenticate(
    request: Request,
    state: AppState,
    bearer: HTTPAuthorizationCredentials | None,
    api_key: str | None,
) -> Principal:
    if state.limiter is not None:
        state.limiter.check_ip(request.client.host if request.client else "unknown")
    token = bearer.credentials if bearer is not None else api_key
    if not token:
        raise _unauthorized("authentication required: send 'Authorization: Bearer <API key>'")
    if token.startswith(f"{PREFIX}_"):
        principal = _from_api_key(state, token)
    else:
        principal = _from_jwt(state, token)
    if state.limiter is not None:
        state.limiter.check_key(principal.id)
    return principal


def require(scope: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits callers holding `scope` (or `admin`); 403 for others."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    async def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        # async (no I/O): runs on the event loop, not as one more thread-pool hop
        if not principal.allows(scope):
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"this credential lacks the {scope!r} scope",
            )
        return principal

    return dependency


async def get_client_id(
    principal: Annotated[Principal, Depends(authenticate)],
    x_client_id: Annotated[
        str | None,
        Header(
            max_length=40,
            pattern=r"^[A-Za-z0-9._:@-]+$",
            description="The caller's own end user, recorded with its usage.",
        ),
    ] = None,
) -> str:
    """Whom usage is recorded under: the credential, and the end user it names if any."""
    return f"{principal.id}/{x_client_id}" if x_client_id else principal.id


ClientIdDep = Annotated[str, Depends(get_client_id)]
SearchCaller = Annotated[Principal, Depends(require("search"))]
AskCaller = Annotated[Principal, Depends(require("ask"))]
SqlCaller = Annotated[Principal, Depends(require("sql"))]


def readable_filters(
    principal: Principal, state: AppState, vendor: str | None, product: str | None
) -> SearchFilters:
    """The request's filters, narrowed to the manuals the caller may see and whose
    license allows serving as of the request's catalog view."""
    filters = SearchFilters(
        vendor=vendor,
        product=product,
        withheld_manual_keys=principal.view.withheld_manual_keys,
    )
    if not principal.restricted:
        return filters
    keys = state.access.visible_manual_keys(principal.view, principal.vendors, principal.products)
    return replace(filters, manual_keys=keys)
