"""One dossier explained (tra cứu hồ sơ): its status, hold periods and the counters it is in, from its merged state.

Pure: the caller passes the state, the instant and the effective-unit rule (domain/effective.TreeView).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.scoring.domain.counters import contribution, live_counters, progress_correction
from services.scoring.domain.effective import month_last_day
from services.scoring.domain.state import DossierState
from services.scoring.domain.timebase import Instant, month_label, month_of, parse_month

OPEN = "open"
RESOLVED = "resolved"
WITHDRAWN = "withdrawn"
NO_RECEIPT = "no_receipt"


def status_of(state: DossierState) -> str:
    """open (received, not ended), resolved, withdrawn (whichever ended it first), or no_receipt (events known
    but no `received` yet: not counted in progress)."""
    if state.receipt is None:
        return NO_RECEIPT
    if state.ended_at is None:
        return OPEN
    if state.resolution is not None and state.resolution.resolved_at == state.ended_at:
        return RESOLVED
    return WITHDRAWN


def hold_periods(state: DossierState) -> list[tuple[Instant, Instant | None]]:
    """(start, end) of every period on hold, oldest first; end None while it lasts."""
    flips = state.hold_flips
    return [(flips[i], flips[i + 1] if i + 1 < len(flips) else None) for i in range(0, len(flips), 2)]


@dataclass(frozen=True, slots=True)
class Membership:
    month: str
    """YYYY-MM."""
    named_unit: str
    """The unit named on the fact (the home unit for progress counters)."""
    counts_for: str
    """The unit the fact counts for in that month (named unit, or its successor once retired); its ancestors too."""
    counter: str
    value: int


def memberships(state: DossierState, now: Instant, effective: Callable[[str, object], str]) -> list[Membership]:
    """The stored counters this dossier adds to (``counters.contribution`` at ``now``), by month then counter;
    `effective(unit_id, day)` is the effective-unit rule (TreeView.effective)."""
    out = []
    for (unit, label, counter), value in contribution(state, now).items():
        day = month_last_day(parse_month(label))
        out.append(Membership(label, unit, effective(unit, day), counter, value))
    out.sort(key=lambda m: (m.month, m.counter, m.named_unit))
    return out


@dataclass(frozen=True, slots=True)
class LiveView:
    month: str
    correction: int
    """This dossier's live correction to progress_on_time of the current month (+1: on time now, stored as late
    at the month's end)."""
    live: dict[str, int]
    """SPEC §4 live counters of the dossier now (0/1 each)."""
    on_hold_now: bool


def live_view(state: DossierState, now: Instant) -> LiveView:
    return LiveView(
        month_label(month_of(now)),
        progress_correction(state, now),
        live_counters(state, now),
        state.on_hold_at(now),
    )
