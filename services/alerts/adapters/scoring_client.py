"""What the alerts read from the scoring API: near-due lists (`GET /v1/units/{unit_id}/dossiers?state=due_soon&
within_hours=…`), the month-end forecasts of a level (`GET /v1/forecasts?level=…`) and a unit's to-do
(`GET /v1/units/{unit_id}/todo`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import httpx
from pydantic import AwareDatetime, BaseModel, Field

from services.alerts.domain.forecasts import UnitForecast
from services.alerts.domain.todo_digest import TodoList
from services.alerts.service.ports import UnitLive
from shared.indicators import NearDueDossier, UnitNearDue
from shared.outages import DependencyState

log = logging.getLogger(__name__)
T = TypeVar("T")

PAGE_LIMIT = 500
MAX_PAGES = 20
MAX_HOURS = 24 * 30  # the most scoring accepts


class UnitInfo(BaseModel):
    unit_id: str = Field(description="Unit")
    name: str = Field(description="Unit name")
    level: str = Field(description="Unit level")
    ancestors: list[str] = Field(default_factory=list, description="Ancestors, nearest first")


class _DossierPage(BaseModel):
    unit_id: str = Field(description="Unit asked about")
    as_of: AwareDatetime = Field(description="Instant the list was taken")
    items: list[NearDueDossier] = Field(default_factory=list, description="Dossiers (extra fields ignored)")
    next_cursor: str | None = Field(None, description="Opaque cursor of the next page")


async def fetch_near_due(client: httpx.AsyncClient, unit: UnitInfo, horizon: timedelta) -> UnitNearDue:
    """The unit's OWN open, not-on-hold dossiers due within `horizon`, following the pages."""
    params: dict[str, str | int] = {
        "state": "due_soon",
        "within_hours": min(MAX_HOURS, horizon.total_seconds() / 3600),
        "subtree": "false",
        "limit": PAGE_LIMIT,
    }
    dossiers: list[NearDueDossier] = []
    as_of = None
    for _ in range(MAX_PAGES):
        response = await client.get(f"/v1/units/{unit.unit_id}/dossiers", params=params)
        response.raise_for_status()
        page = _DossierPage.model_validate(response.json())
        as_of = as_of or page.as_of
        dossiers.extend(page.items)
        if not page.next_cursor:
            break
        params["cursor"] = page.next_cursor
    assert as_of is not None
    return UnitNearDue(
        unit_id=unit.unit_id, name=unit.name, level=unit.level, ancestors=unit.ancestors, as_of=as_of,  # type: ignore[arg-type]
        dossiers=dossiers,
    )  # fmt: skip


def is_scoring_outage(error: Exception) -> bool:
    """No answer at all, or a 5xx: scoring is down or unhealthy (a 4xx is a question scoring did answer)."""
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code >= 500
    return isinstance(error, httpx.TransportError)


async def scoring_alive(client: httpx.AsyncClient, timeout_s: float = 5.0) -> object:
    """Scoring's `/healthz` answer (its identity, `shared.identity`); raise unless it answers 2xx JSON in time."""
    response = await client.get("/healthz", timeout=timeout_s)
    response.raise_for_status()
    try:
        return response.json()
    except ValueError as error:
        raise httpx.DecodingError(f"/healthz did not answer JSON: {error}") from None


class ScoringSource:
    """Asks scoring's API: a failed request is counted and skipped (asked again at the next pass); an outage of
    scoring is one line per outage (`DependencyState`), not one per unit and pass."""

    def __init__(
        self, client: httpx.AsyncClient, scoring: DependencyState, on_error: Callable[[], None] = lambda: None
    ) -> None:
        self.client = client
        self.scoring = scoring
        self.on_error = on_error

    async def _ask(self, what: str, request: Awaitable[T]) -> T | None:
        try:
            found = await request
        except (httpx.HTTPError, ValueError) as error:
            self.on_error()
            if is_scoring_outage(error):
                self.scoring.failed(error)
            else:
                log.warning("%s unavailable: %s", what, error)
            return None
        self.scoring.succeeded()
        return found


class ScoringNearDue(ScoringSource):
    """`NearDueSource` over scoring's API."""

    async def near_due(self, unit: UnitLive, horizon: timedelta) -> UnitNearDue | None:
        info = UnitInfo(unit_id=unit.unit_id, name=unit.name, level=unit.level, ancestors=unit.ancestors)
        return await self._ask(f"near-due list of {unit.unit_id}", fetch_near_due(self.client, info, horizon))


class _LevelForecasts(BaseModel):
    items: list[UnitForecast] = Field(default_factory=list, description="Every unit of the level (extras ignored)")


async def fetch_forecasts(client: httpx.AsyncClient, level: str) -> list[UnitForecast]:
    """Every unit of the level, from one request (scoring computes the whole level at once for the ranks)."""
    response = await client.get("/v1/forecasts", params={"level": level})
    response.raise_for_status()
    return _LevelForecasts.model_validate(response.json()).items


class ScoringForecasts(ScoringSource):
    """`ForecastSource` over scoring's API."""

    async def forecasts(self, level: str) -> list[UnitForecast] | None:
        return await self._ask(f"forecasts of level {level}", fetch_forecasts(self.client, level))


async def fetch_todo(client: httpx.AsyncClient, unit_id: str, limit: int) -> TodoList:
    """The first page of the unit's to-do (due today, tomorrow, this month, then overdue)."""
    response = await client.get(f"/v1/units/{unit_id}/todo", params={"section": "all", "limit": limit})
    response.raise_for_status()
    return TodoList.model_validate(response.json())


class ScoringTodo(ScoringSource):
    """`TodoSource` over scoring's API."""

    async def todo(self, unit_id: str, limit: int) -> TodoList | None:
        return await self._ask(f"to-do of {unit_id}", fetch_todo(self.client, unit_id, limit))
