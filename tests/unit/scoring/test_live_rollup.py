"""Live figures per home unit rolled up to every ancestor (SPEC §1: a unit's figures include its subtree)."""

from __future__ import annotations

from datetime import date

from services.scoring.domain.effective import TreeView
from services.scoring.domain.live import LiveFigures, roll_up_live
from shared.units import Unit, UnitLevel, UnitRegistry

TREE = TreeView(
    UnitRegistry(
        [
            Unit("CITY", "Thành phố", UnitLevel.CITY, None),
            Unit("DIST", "Quận", UnitLevel.DISTRICT, "CITY"),
            Unit("COMM1", "Phường 1", UnitLevel.COMMUNE, "DIST"),
            Unit("COMM2", "Phường 2", UnitLevel.COMMUNE, "DIST"),
            Unit("DEPT", "Sở", UnitLevel.DEPARTMENT, "CITY"),
        ]
    )
)
TODAY = date(2026, 11, 30)


def test_each_unit_gets_its_own_dossiers_plus_its_subtree() -> None:
    by_home = {
        "COMM1": LiveFigures(open=3, overdue_open=1, due_soon=1, progress_correction=1),
        "COMM2": LiveFigures(open=2, overdue_open=2),
        "DIST": LiveFigures(open=1, due_soon=1),
        "DEPT": LiveFigures(open=5, overdue_open=1, progress_correction=-1),
    }
    rolled = roll_up_live(by_home, TREE, TODAY)
    assert rolled["COMM1"] == LiveFigures(3, 1, 1, 1)
    assert rolled["COMM2"] == LiveFigures(2, 2, 0, 0)
    assert rolled["DIST"] == LiveFigures(6, 3, 2, 1)
    assert rolled["DEPT"] == LiveFigures(5, 1, 0, -1)
    assert rolled["CITY"] == LiveFigures(11, 4, 2, 0)


def test_units_without_open_dossiers_are_absent_and_unknown_home_units_count_for_themselves() -> None:
    rolled = roll_up_live({"GONE": LiveFigures(open=1)}, TREE, TODAY)
    assert rolled == {"GONE": LiveFigures(open=1)}
    assert roll_up_live({}, TREE, TODAY) == {}
