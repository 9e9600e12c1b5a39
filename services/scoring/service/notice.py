"""Reading the city's written notice (domain/notice.py): the monthly table, the city's figures and annex II."""

from __future__ import annotations

from services.scoring.domain.notice import (
    ANNEX_LIMIT,
    CityFigures,
    Notice,
    OverdueDossier,
    OverdueUnit,
    build_notice,
)
from services.scoring.domain.report import overdue_of
from services.scoring.service import reports
from services.scoring.service.periods import Period, resolve_period
from services.scoring.service.read_ports import DossierRepository
from services.scoring.service.reading import ScoringReader


async def load_notice(reader: ScoringReader, dossiers: DossierRepository, period: Period) -> Notice:
    """The month's table (`reports.load_report`), the city's figures and the per-unit overdue annex."""
    report = await reports.load_report(reader, period)
    city_unit = reader.directory.registry.city
    snapshot = await reader.live_snapshot(fresh=True)
    previous = resolve_period(report.previous, reader.clock())
    score = score_previous = None
    late = 0
    if city_unit is not None:
        _, now_details = await reader.level_table("city", period, fresh=True, live=snapshot)
        _, before_details = await reader.level_table("city", previous, fresh=True, live=snapshot)
        mine, before = now_details.get(city_unit.unit_id), before_details.get(city_unit.unit_id)
        score = mine.card.score if mine else None
        score_previous = before.card.score if before else None
        late = overdue_of(mine.counters) if mine else 0
    city_live = snapshot.by_unit.get(city_unit.unit_id) if city_unit is not None else None
    city = CityFigures(
        name=city_unit.name if city_unit is not None else "Thành phố Hà Nội",
        score=score,
        score_previous=score_previous,
        late=late,
        overdue_open=int(getattr(city_live, "overdue_open", 0)),
    )
    annex: list[OverdueUnit] = []
    now = snapshot.now
    for row in report.rows:
        count = int(getattr(snapshot.by_unit.get(row.unit_id), "overdue_open", 0))
        if count <= 0:
            continue
        records = await dossiers.late_or_due(reader.home_units_of(row.unit_id), "overdue", now, None, ANNEX_LIMIT)
        listed = tuple(
            OverdueDossier(r["dossier_id"], r["procedure_id"], r["received_at"], r["due_at"],
                           (now - r["due_at"]).total_seconds() / 86400)
            for r in records
        )  # fmt: skip
        annex.append(OverdueUnit(row.unit_id, row.name, row.level, count, listed))
    return build_notice(report, city, annex)
