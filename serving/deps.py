"""FastAPI dependencies: typed handles on the shared state."""

from typing import Annotated

from fastapi import Depends, Request

from serving.state import AppState


async def get_state(request: Request) -> AppState:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a hop per request
    state: AppState = request.app.state.platform
    return state


StateDep = Annotated[AppState, Depends(get_state)]
