"""What the read use cases need from the outside world: small interfaces the adapters implement.

The use cases (reading.py, actions.py, reports.py, notice.py, publisher.py) take these, never an
asyncpg pool, a FastStream publisher or the metrics registry, so that their unit tests run on hand-written fakes
(tests/unit/scoring/fakes.py) and the adapters (adapters/queries.py, adapters/dossier_queries.py,
adapters/units.py, adapters/profile_file.py, adapters/kafka_indicators.py) can change without touching them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from services.scoring.domain.effective import TreeView
from services.scoring.domain.live import LiveFigures
from services.scoring.domain.profile import ScoreProfile
from shared.units import UnitRegistry

Clock = Callable[[], datetime]
"""The current instant (aware, UTC)."""

Row = Mapping[str, Any]
"""A row read by a repository: named columns (an asyncpg Record, or a dict in a test)."""


class FiguresRepository(Protocol):
    """Stored monthly counters and the live figures of the open dossiers (adapters/queries.py)."""

    async def month_own_counters(self, month: str) -> dict[str, dict[str, int]]:
        """Unit named on the facts → counter → value, for one month (subtrees NOT summed)."""
        ...

    async def live_by_home_unit(self, now: datetime, month_end: datetime) -> dict[str, LiveFigures]:
        """Live figures of the open dossiers per home unit, as of `now` (subtrees NOT summed)."""
        ...

    async def received_since(self, since: datetime) -> int:
        """Dossiers received since `since`, city-wide."""
        ...


class UnitsView(Protocol):
    """The unit registry as this process knows it (adapters/units.py)."""

    registry: UnitRegistry
    view: TreeView
    on_change: list[Callable[[], None]]
    """Called after the registry changed (the read tables built on the old one are then dropped)."""

    async def refresh_if_stale(self) -> bool:
        """Re-read the registry if it was not read lately; True when it changed."""
        ...


class ProfileSource(Protocol):
    """The score profile in force (adapters/profile_file.py)."""

    def current(self) -> ScoreProfile: ...

    def reload(self) -> ScoreProfile: ...


class DossierRepository(Protocol):
    """Dossier-level reads: pages of open dossiers, the to-do list, one dossier (adapters/dossier_queries.py)."""

    async def late_or_due(
        self,
        home_units: Sequence[str],
        state: str,
        now: datetime,
        after: tuple[datetime, str] | None,
        limit: int,
        within: timedelta = timedelta(hours=24),
    ) -> list[Row]:
        """Open dossiers overdue (`state` "overdue") or due within `within` ("due_soon"), by (due, id)."""
        ...

    async def todo_counts(
        self, home_units: Sequence[str], now: datetime, today_end: datetime, tomorrow_end: datetime,
        month_end: datetime,
    ) -> dict[str, int]: ...  # fmt: skip

    async def todo_upcoming(
        self, home_units: Sequence[str], now: datetime, list_end: datetime, after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Row]: ...  # fmt: skip

    async def todo_overdue(
        self, home_units: Sequence[str], now: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[Row]: ...

    async def open_counts(self, home_units: Sequence[str], now: datetime) -> tuple[int, int]: ...

    async def open_dossiers(
        self, home_units: Sequence[str], now: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[Row]: ...

    async def dossier(self, dossier_id: str) -> Row | None: ...


class MessagePublisher(Protocol):
    """Sends a publication's `unit-indicators` messages, (unit_id key, JSON value) each, and returns once the broker
    has acknowledged every one (adapters/kafka_publishers.py)."""

    async def publish(self, messages: Sequence[tuple[str, bytes]]) -> None: ...


class UnitGaugeRow(NamedTuple):
    """One unit's current-month figures as exported to Prometheus."""

    unit_id: str
    level: str
    score: float | None
    rates: Mapping[str, float | None]
    live: Sequence[tuple[str, int]]
    """(counter, value): open, overdue_open, due_soon."""


class UnitGauges(Protocol):
    """The per-unit gauges of `/metrics` (adapters/metrics.py), replaced as a whole from the read tables."""

    def replace_units(self, rows: Iterable[UnitGaugeRow]) -> None:
        """Export exactly these units: a unit missing from `rows` (retired, no figures) loses its series."""
        ...
