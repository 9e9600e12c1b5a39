"""Live figures of the open dossiers (SPEC §4) and their roll-up from the dossiers' home units to every unit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from services.scoring.domain.effective import TreeView, roll_up_by_home


@dataclass(frozen=True, slots=True)
class LiveFigures:
    open: int = 0
    overdue_open: int = 0
    due_soon: int = 0
    progress_correction: int = 0
    """+1 per open dossier on time now although stored as late at the month's end (SPEC §4, T = now)."""


def roll_up_live(by_home_unit: Mapping[str, LiveFigures], view: TreeView, day: date) -> dict[str, LiveFigures]:
    """Each unit's live figures including its subtree and the units retired into it (SPEC §1), from the figures
    of the dossiers' home units, resolved on `day`."""
    rolled = roll_up_by_home(
        {home: (f.open, f.overdue_open, f.due_soon, f.progress_correction) for home, f in by_home_unit.items()},
        view,
        day,
    )
    return {unit_id: LiveFigures(*figures) for unit_id, figures in rolled.items()}
