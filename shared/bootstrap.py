"""How a service hands its one container to routes and subscribers: built in the lifespan, never at import time.

Every service has a `bootstrap.py` with a `Container` dataclass (its use cases and the adapters they run on) and a
`build_container(...)` coroutine the lifespan awaits. The container is then published in two places:

- `app.state.container`, read by routes through `Annotated[Container, Depends(container_dependency(Container))]`;
  a request that arrives before the lifespan has built it gets 503 `starting` with `Retry-After: 1`;
- the FastStream broker's context under the key `"container"`, read by subscribers with `Context("container")`.

One pattern for the three services, instead of getter lambdas, Optional fields with an `asyncio.Event`, or
`app.state` lookups spread over the routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request

from shared.http import ApiError

C = TypeVar("C")
CONTEXT_KEY = "container"


def starting_error() -> ApiError:
    return ApiError(503, "starting", "Dịch vụ đang khởi động / the service is starting", {"Retry-After": "1"})


def publish_container(app: FastAPI, container: Any, broker: Any | None = None) -> None:
    """Make the built container visible to the routes (app.state) and the subscribers (the broker's context)."""
    app.state.container = container
    if broker is not None:
        broker.context.set_global(CONTEXT_KEY, container)


def withdraw_container(app: FastAPI, broker: Any | None = None) -> None:
    """Undo publish_container at shutdown: late requests get 503 `starting`, not a half-closed pool."""
    app.state.container = None
    if broker is not None:
        broker.context.reset_global(CONTEXT_KEY)


def container_of(app: FastAPI, kind: type[C]) -> C:
    """The app's container, or ApiError 503 `starting` while the lifespan is still building it."""
    container = getattr(app.state, "container", None)
    if container is None:
        raise starting_error()
    if not isinstance(container, kind):
        raise TypeError(f"app.state.container is {type(container).__name__}, expected {kind.__name__}")
    return container


def container_dependency(kind: type[C]) -> Callable[[Request], Awaitable[C]]:
    """A FastAPI dependency returning the container (use it in `Annotated[Container, Depends(...)]`).

    A coroutine although it never awaits: FastAPI runs a plain-function dependency in a worker thread, a thread
    hop per request that was the largest single cost of a cached read (docs/benchmarks.md, issue 15)."""

    async def dependency(request: Request) -> C:
        return container_of(request.app, kind)

    dependency.__name__ = f"{kind.__name__.lower()}_dependency"
    return dependency
