"""FastAPI dependencies: typed handles on the shared state."""

from typing import Annotated

from fastapi import Depends, Header, Request

from serving.state import AppState


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.platform
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_client_id(
    x_client_id: Annotated[
        str | None,
        Header(max_length=200, pattern=r"^[A-Za-z0-9._:@-]+$", description="Who is asking."),
    ] = None,
) -> str | None:
    """The calling API client, for usage accounting (authentication will supply it)."""
    return x_client_id


ClientIdDep = Annotated[str | None, Depends(get_client_id)]
