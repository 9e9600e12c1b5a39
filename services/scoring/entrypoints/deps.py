"""What every scoring route starts from: the container (shared/bootstrap.py), a period, a unit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Query

from services.scoring.bootstrap import Container
from services.scoring.service.periods import Period, resolve_period
from shared.bootstrap import container_dependency
from shared.http import ApiError
from shared.units import Unit

Scoring = Annotated[Container, Depends(container_dependency(Container))]
"""A route's scoring container (503 `starting` until the lifespan has built it)."""
PageLimit = Annotated[int, Query(ge=1, le=1000)]
PageCursor = Annotated[str | None, Query(description="next_cursor of the previous page")]
Responses = dict[int | str, dict[str, Any]]


def documented(
    method: Callable[..., Any], path: str, model: type[Any], responses: Responses, tag: str, summary: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A route (`router.get`, `router.post`) documented by its response model, its other answers, one tag and a
    summary: how the scoring API declares its routes."""
    return method(path, response_model=model, responses=responses, tags=[tag], summary=summary)


def period_of(container: Container, label: str | None) -> Period:
    """The period a `period` parameter names (None: the current month); 422 `invalid_period` when malformed."""
    try:
        return resolve_period(label, container.reader.clock())
    except ValueError:
        raise ApiError(422, "invalid_period", f"Kỳ không hợp lệ, cần YYYY-MM / malformed period: {label!r}") from None


async def unit_of(container: Container, unit_id: str) -> Unit:
    """The unit of the registry (read again if it is not known yet); 404 `unknown_unit` when there is none."""
    unit = await container.reader.unit(unit_id)
    if unit is None:
        raise ApiError(404, "unknown_unit", f"Không có đơn vị {unit_id!r} / unknown unit {unit_id!r}")
    return unit
