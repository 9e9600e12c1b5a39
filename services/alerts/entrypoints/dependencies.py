"""What every alerts route uses: the container (built in the lifespan; 503 `starting` before that), and the 404 of
a missing row."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Depends

from services.alerts.bootstrap import Container
from shared.bootstrap import container_dependency
from shared.http import ApiError

T = TypeVar("T")

AlertsContainer = Annotated[Container, Depends(container_dependency(Container))]


def found(row: T | None, missing: ApiError) -> T:
    """The row, or `missing` (the route's 404) raised when there is none."""
    if row is None:
        raise missing
    return row
