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


def bounded_progress_correction(stored: Mapping[str, int], correction: int) -> int:
    """The live correction a unit's stored current month can take: at most the dossiers it stores as late.

    Once the month's roll-over has run, every dossier the correction counts is stored as late at the month's end
    (progress_total +1, progress_on_time +0), so the bound never bites. In the first moments of a month, before
    the roll-over has counted the open dossiers in it, the correction (read from every open dossier) also counts
    dossiers the new month does not hold yet: unbounded, progress_on_time passed progress_total and the rate passed
    1 (the API answered 500 at Vietnam's midnight on 1 December). Bounded, the month's progress is that of the
    dossiers already rolled until the roll-over ends (docs/architecture.md, "Month roll-over").
    """
    late = int(stored.get("progress_total", 0)) - int(stored.get("progress_on_time", 0))
    return max(0, min(correction, late))
