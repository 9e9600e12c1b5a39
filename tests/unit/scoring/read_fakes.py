"""Hand-written fakes of the read use cases' interfaces (services/scoring/service/read_ports.py): in-memory figures, a
fixed registry, a fixed profile, dossiers in a list, a message sink that keeps what it is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.scoring.domain.effective import TreeView
from services.scoring.domain.live import LiveFigures
from services.scoring.domain.profile import ScoreProfile, parse_profile
from shared.units import Unit, UnitLevel, UnitRegistry

PROFILE_FILE = Path(__file__).resolve().parents[3] / "config" / "score_profile.yaml"
NOW = datetime(2026, 10, 20, 3, 0, tzinfo=UTC)
"""10:00 on 20 October 2026 in Hà Nội."""


def profile() -> ScoreProfile:
    return parse_profile(PROFILE_FILE.read_text(encoding="utf-8"))


def city_registry() -> UnitRegistry:
    """A city (C) with two districts (D1, D2); D1 has one commune (D1.X)."""
    return UnitRegistry(
        [
            Unit("C", "Thành phố Hà Nội", UnitLevel.CITY, None),
            Unit("D1", "Quận Ba Đình", UnitLevel.DISTRICT, "C"),
            Unit("D2", "Quận Đống Đa", UnitLevel.DISTRICT, "C"),
            Unit("D1.X", "Phường Phúc Xá", UnitLevel.COMMUNE, "D1"),
        ]
    )


@dataclass
class FakeFigures:
    """FiguresRepository: own counters per month label and unit, live figures per home unit."""

    months: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    live: dict[str, LiveFigures] = field(default_factory=dict)
    received_today: int = 0
    asked_months: list[str] = field(default_factory=list)
    live_reads: int = 0
    live_read_at: list[float] = field(default_factory=list)  # the event loop's time of each live read

    async def month_own_counters(self, month: str) -> dict[str, dict[str, int]]:
        self.asked_months.append(month)
        return {unit: dict(counters) for unit, counters in self.months.get(month, {}).items()}

    async def live_by_home_unit(self, now: datetime, month_end: datetime) -> dict[str, LiveFigures]:
        self.live_reads += 1
        self.live_read_at.append(asyncio.get_running_loop().time())
        return dict(self.live)

    async def received_since(self, since: datetime) -> int:
        return self.received_today


class FakeUnits:
    """UnitsView: a registry that never changes unless a test replaces it."""

    def __init__(self, registry: UnitRegistry) -> None:
        self.registry = registry
        self.view = TreeView(registry)
        self.on_change: list[Callable[[], None]] = []

    async def refresh_if_stale(self) -> bool:
        return False


@dataclass
class FakeProfiles:
    """ProfileSource: one profile."""

    profile: ScoreProfile

    def current(self) -> ScoreProfile:
        return self.profile

    def reload(self) -> ScoreProfile:
        return self.profile


@dataclass
class Dossier:
    dossier_id: str
    home_unit: str
    due_at: datetime
    received_at: datetime = NOW - timedelta(days=3)
    procedure_id: str | None = "1.000046"
    on_hold: bool = False
    state: str = "{}"

    def row(self) -> dict[str, Any]:
        return {"dossier_id": self.dossier_id, "procedure_id": self.procedure_id, "home_unit": self.home_unit,
                "received_at": self.received_at, "due_at": self.due_at, "on_hold": self.on_hold}  # fmt: skip


@dataclass
class FakeDossiers:
    """DossierRepository over a list of open dossiers, with the SQL's filters written in Python."""

    dossiers: list[Dossier] = field(default_factory=list)

    def _open(self, home_units: Sequence[str], after: tuple[datetime, str] | None) -> list[Dossier]:
        found = [d for d in self.dossiers if d.home_unit in home_units]
        if after is not None:
            found = [d for d in found if (d.due_at, d.dossier_id) > after]
        return sorted(found, key=lambda d: (d.due_at, d.dossier_id))

    def _page(self, found: list[Dossier], limit: int) -> list[dict[str, Any]]:
        return [d.row() for d in found[:limit]]

    async def late_or_due(
        self,
        home_units: Sequence[str],
        state: str,
        now: datetime,
        after: tuple[datetime, str] | None,
        limit: int,
        within: timedelta = timedelta(hours=24),
    ) -> list[dict[str, Any]]:
        found = [d for d in self._open(home_units, after) if not d.on_hold]
        if state == "overdue":
            return self._page([d for d in found if d.due_at < now], limit)
        return self._page([d for d in found if now <= d.due_at < now + within], limit)

    async def todo_counts(
        self, home_units: Sequence[str], now: datetime, today_end: datetime, tomorrow_end: datetime,
        month_end: datetime,
    ) -> dict[str, int]:  # fmt: skip
        found = [d for d in self._open(home_units, None) if not d.on_hold]
        return {
            "due_today": sum(1 for d in found if now <= d.due_at < today_end),
            "due_tomorrow": sum(1 for d in found if today_end <= d.due_at < tomorrow_end),
            "due_this_month": sum(1 for d in found if tomorrow_end <= d.due_at < month_end),
            "overdue": sum(1 for d in found if d.due_at < now),
        }

    async def todo_upcoming(
        self, home_units: Sequence[str], now: datetime, list_end: datetime, after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:  # fmt: skip
        found = [d for d in self._open(home_units, after) if not d.on_hold and now <= d.due_at < list_end]
        return self._page(found, limit)

    async def todo_overdue(
        self, home_units: Sequence[str], now: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        return await self.late_or_due(home_units, "overdue", now, after, limit)

    async def open_counts(self, home_units: Sequence[str], now: datetime) -> tuple[int, int]:
        found = self._open(home_units, None)
        return len(found), sum(1 for d in found if d.on_hold)

    async def open_dossiers(
        self, home_units: Sequence[str], now: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        return self._page(self._open(home_units, after), limit)

    async def dossier(self, dossier_id: str) -> dict[str, Any] | None:
        return None


@dataclass
class FakeSink:
    """MessagePublisher: keeps every (key, value) it is sent."""

    sent: list[tuple[str, bytes]] = field(default_factory=list)

    async def publish(self, messages: Sequence[tuple[str, bytes]]) -> None:
        self.sent.extend(messages)


@dataclass
class FakeGauges:
    """UnitGauges: the rows of the last replacement, by unit."""

    rows: dict[str, Any] = field(default_factory=dict)
    replacements: int = 0

    def replace_units(self, rows: Any) -> None:
        self.rows = {row.unit_id: row for row in rows}
        self.replacements += 1
