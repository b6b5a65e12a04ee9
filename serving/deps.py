"""FastAPI dependencies: typed handles on the shared state."""

from typing import Annotated

from fastapi import Depends, Request

from serving.state import AppState


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.platform
    return state


StateDep = Annotated[AppState, Depends(get_state)]
