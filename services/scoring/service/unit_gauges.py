"""The per-unit gauges of `/metrics`, computed at scrape time from the read tables every process shares.

Before, the gauges were set by the publisher for the units this process happened to publish, so the two scoring
processes exported different units (and none after a restart). Now every scrape exports every unit that has
current-month figures (ranked or not, but existing this month), from the same read tables as the API: two
processes answer the same series (the live figures are those of the current live tick, shared by every process).
"""

from __future__ import annotations

from services.scoring.service.periods import resolve_period
from services.scoring.service.read_ports import UnitGaugeRow, UnitGauges
from services.scoring.service.read_views import indicators_view
from services.scoring.service.reading import ScoringReader
from shared.indicators import UNIT_LEVELS


class UnitGaugeExporter:
    def __init__(self, reader: ScoringReader, gauges: UnitGauges) -> None:
        self._reader = reader
        self._gauges = gauges

    async def rows(self) -> list[UnitGaugeRow]:
        """Every unit with current-month figures, level by level, from the cached read tables."""
        reader = self._reader
        period = resolve_period(None, reader.clock())
        snapshot = await reader.live_snapshot()
        rows: list[UnitGaugeRow] = []
        for level in UNIT_LEVELS:
            table = await reader.level_table(level, period)
            for unit_id in sorted(table.details):
                unit = reader.directory.registry.get(unit_id)
                if unit is None or table.details[unit_id].ranked is None:
                    continue  # retired before this month: no current figures
                figures = indicators_view(unit, period, table, snapshot)
                live = figures.live
                rows.append(
                    UnitGaugeRow(
                        unit_id,
                        level,
                        figures.score,
                        table.details[unit_id].card.rates,
                        (("open", live.open), ("overdue_open", live.overdue_open), ("due_soon", live.due_soon)),
                    )
                )
        return rows

    async def refresh(self) -> int:
        """Replace the exported gauges by the current figures; the number of units exported."""
        rows = await self.rows()
        self._gauges.replace_units(rows)
        return len(rows)
