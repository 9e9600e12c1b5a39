"""Reading the monthly publication (domain/report.py) from the read tables: three months of every ranked level.

`load_report` takes the scoring reader (or anything with the same members: tests use a fake); the renderings are
adapters/report_formats.py (CSV, XLSX, JSON), the CLI is entrypoints/reports_cli.py, the route
entrypoints/dashboard.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from services.scoring.domain.rank import RankedUnit
from services.scoring.domain.report import (
    REPORT_LEVELS,
    MonthlyReport,
    UnitFigures,
    build_report,
    group_columns,
    overdue_of,
)
from services.scoring.domain.timebase import month_label
from services.scoring.service.periods import LiveSnapshot, Period, resolve_period
from services.scoring.service.read_ports import Clock, ProfileSource, UnitsView


class LevelTables(Protocol):
    """What the report reads of the scoring reader (service/reading.py)."""

    directory: UnitsView
    profiles: ProfileSource
    clock: Clock

    async def live_snapshot(self, *, fresh: bool = False) -> Any: ...

    async def level_table(
        self, level: str, period: Period, *, fresh: bool = False, live: LiveSnapshot | None = None
    ) -> tuple[list[RankedUnit], dict[str, Any]]: ...


def figures_from_table(
    ranked: Sequence[RankedUnit],
    details: Mapping[str, Any],
    names: Mapping[str, str],
    current: bool = False,
) -> list[UnitFigures]:
    """A level table of the scoring reader (rank order; counters, score card, live figures per unit) as report
    input. `current`: the month is the current one, so the live open-overdue count belongs to it."""
    out = []
    for entry in ranked:
        figures = details[entry.unit_id]
        counters, card, live = figures.counters, figures.card, figures.live
        out.append(
            UnitFigures(
                unit_id=entry.unit_id,
                name=names.get(entry.unit_id, entry.unit_id),
                score=card.score,
                rank=entry.rank,
                rank_of=entry.rank_of,
                group_points={key: group.points for key, group in card.groups.items()},
                overdue=overdue_of(counters),
                overdue_open=int(getattr(live, "overdue_open", 0)) if current else None,
            )
        )
    return out


async def load_report(reader: LevelTables, period: Period) -> MonthlyReport:
    """Read the three months of every level from the scoring reader (or anything with the same members)."""
    now = reader.clock()
    months = [period, *(resolve_period(month_label(period.month - k), now) for k in (1, 2))]
    names = {u.unit_id: u.name for u in reader.directory.registry}
    levels: dict[str, tuple[list[UnitFigures], list[UnitFigures], list[UnitFigures]]] = {}
    # Fresh tables (not the API's read cache), all with one live snapshot: a notice is a document, exact as of the
    # moment it is generated.
    snapshot = await reader.live_snapshot(fresh=True)
    for level in REPORT_LEVELS:
        tables = [await reader.level_table(level, month, fresh=True, live=snapshot) for month in months]
        figures = [figures_from_table(ranked, details, names, month.is_current)
                   for month, (ranked, details) in zip(months, tables, strict=True)]  # fmt: skip
        levels[level] = (figures[0], figures[1], figures[2])
    _, city_details = await reader.level_table("city", period, fresh=True, live=snapshot)
    city_overdue = sum(overdue_of(figures.counters) for figures in city_details.values())
    profile = reader.profiles.current()
    return build_report(period.month, group_columns(profile), levels, city_overdue, profile.name, now)
