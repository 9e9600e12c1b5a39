"""Live figures per home unit rolled up to every ancestor (SPEC §1: a unit's figures include its subtree)."""

from __future__ import annotations

from services.scoring.adapters.queries import LiveFigures
from services.scoring.domain.apply import AncestorLookup
from services.scoring.reading import roll_up_live

TREE = AncestorLookup({"CITY": None, "DIST": "CITY", "COMM1": "DIST", "COMM2": "DIST", "DEPT": "CITY"})


def test_each_unit_gets_its_own_dossiers_plus_its_subtree() -> None:
    by_home = {
        "COMM1": LiveFigures(open=3, overdue_open=1, due_soon=1, progress_correction=1),
        "COMM2": LiveFigures(open=2, overdue_open=2),
        "DIST": LiveFigures(open=1, due_soon=1),
        "DEPT": LiveFigures(open=5, overdue_open=1, progress_correction=-1),
    }
    rolled = roll_up_live(by_home, TREE.chain)
    assert rolled["COMM1"] == LiveFigures(3, 1, 1, 1)
    assert rolled["COMM2"] == LiveFigures(2, 2, 0, 0)
    assert rolled["DIST"] == LiveFigures(6, 3, 2, 1)
    assert rolled["DEPT"] == LiveFigures(5, 1, 0, -1)
    assert rolled["CITY"] == LiveFigures(11, 4, 2, 0)


def test_units_without_open_dossiers_are_absent_and_unknown_home_units_count_for_themselves() -> None:
    rolled = roll_up_live({"GONE": LiveFigures(open=1)}, TREE.chain)
    assert rolled == {"GONE": LiveFigures(open=1)}
    assert roll_up_live({}, TREE.chain) == {}
