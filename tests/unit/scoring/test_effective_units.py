"""Property tests of the effective-unit rule (SPEC §1) against a naive reference written from the SPEC text.

Random registries with retirements and successor chains (a commune merged into another commune that is itself
merged later, a district retired into a new commune directly under the city), random events in any order with
duplicates: the figures the service reads — own counters summed up the current tree through the successors
(domain/effective.py) — equal the reference, which resolves every fact on its own date and adds it to the
effective unit and each of its ancestors, one by one.

The one documented deviation (docs/registry.md): for the progress counters of a month that has ended, a dossier
still open at the month's end is dated at the month's LAST instant (E − 1 µs), not at E itself — so a commune
retired on the 1st of a month keeps the open dossiers of its last month in that month's figures, as SPEC §1's
"a retired commune keeps its figures for the months in which it existed" says.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scoring.domain.counters import (
    PROGRESS_COUNTERS,
    add_into,
    contribution,
    current_month_progress_correction,
    live_counters_by_unit,
)
from services.scoring.domain.effective import TreeView, roll_up_month, units_of_level_in_month
from services.scoring.domain.live import LiveFigures, roll_up_live
from services.scoring.domain.timebase import parse_month
from shared.units import Unit, UnitLevel, UnitRegistry
from tests.unit.scoring.events import EventFact, merge
from tests.unit.scoring.reference import (
    VIETNAM,
    month_text,
    months_between,
    naive_counters,
    naive_live,
)
from tests.unit.scoring.strategies import MONTH_STARTS, event_copies, nows

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# The tree every registry starts from; retirements are drawn on top of it.
BASE = (
    ("CITY", UnitLevel.CITY, None),
    ("DEP", UnitLevel.DEPARTMENT, "CITY"),
    ("D1", UnitLevel.DISTRICT, "CITY"),
    ("C1", UnitLevel.COMMUNE, "D1"),
    ("C2", UnitLevel.COMMUNE, "D1"),
    ("D2", UnitLevel.DISTRICT, "CITY"),
    ("C3", UnitLevel.COMMUNE, "D2"),
    ("N1", UnitLevel.COMMUNE, "CITY"),  # a commune directly under the city, as in Hanoi since July 2025
    ("N2", UnitLevel.COMMUNE, "CITY"),
)
BOUNDARIES = tuple(start.date() for start in MONTH_STARTS[1:])  # 2024-02-01 … 2024-05-01


@st.composite
def registries(draw: st.DrawFn) -> UnitRegistry:
    """Some units retire on the first of a month into a unit that exists that day (chains allowed); new units may
    start on the first of a month."""
    valid_from: dict[str, date | None] = {uid: None for uid, _, _ in BASE}
    for new in ("N1", "N2"):
        valid_from[new] = draw(st.sampled_from((None, *BOUNDARIES)))
    valid_to: dict[str, date | None] = dict.fromkeys(valid_from)
    successor: dict[str, str | None] = dict.fromkeys(valid_from)
    # Decide retirements latest first, so a successor's own retirement is already known (strictly later).
    for uid in draw(st.permutations(["C1", "C2", "C3", "D1", "D2", "DEP", "N1"])):
        if not draw(st.booleans()):
            continue
        day = draw(st.sampled_from(BOUNDARIES))
        if valid_from[uid] is not None and day <= valid_from[uid]:
            continue
        candidates = [
            other
            for other, level, _ in BASE
            if other != uid
            and level is not UnitLevel.CITY
            and (valid_from[other] is None or valid_from[other] <= day)
            and (valid_to[other] is None or valid_to[other] > day)
            and _would_not_cycle(other, uid, successor)
        ]
        if not candidates:
            continue
        valid_to[uid] = day
        successor[uid] = draw(st.sampled_from(sorted(candidates)))
    return UnitRegistry(
        Unit(uid, uid, level, parent, valid_from[uid], valid_to[uid], successor[uid]) for uid, level, parent in BASE
    )


def _would_not_cycle(start: str, target: str, successor: dict[str, str | None]) -> bool:
    current: str | None = start
    while current is not None:
        if current == target:
            return False
        current = successor[current]
    return True


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[UnitRegistry, list[EventFact], datetime]:
    registry = draw(registries())
    names = [uid for uid, _, _ in BASE if uid != "CITY"]
    copies = [replace(fact, unit_id=draw(st.sampled_from(names))) for fact in draw(event_copies())]
    return registry, copies, draw(nows())


# --- the reference, from the SPEC text ---------------------------------------------------------------------------


def naive_effective(registry: UnitRegistry, unit_id: str, moment: datetime) -> str:
    """SPEC §1: the unit while it exists at t; once t ≥ valid_to, its successor, followed until one exists."""
    day = moment.astimezone(VIETNAM).date()
    unit = registry.get(unit_id)
    while unit is not None and unit.valid_to is not None and day >= unit.valid_to:
        unit = registry.get(unit.successor_id)  # type: ignore[arg-type]
    assert unit is not None
    return unit.unit_id


def naive_owners(registry: UnitRegistry, unit_id: str, moment: datetime) -> list[str]:
    owner = naive_effective(registry, unit_id, moment)
    found = [owner]
    parent = registry.get(owner).parent_id  # type: ignore[union-attr]
    while parent is not None:
        found.append(parent)
        parent = registry.get(parent).parent_id  # type: ignore[union-attr]
    return found


def naive_figures(registry: UnitRegistry, copies: list[EventFact], now: datetime) -> dict[tuple[str, str, str], int]:
    """Every SPEC §4 counter of every unit (subtree and successors included) for the months up to now's."""
    first = min([fact.occurred_at for fact in copies] + [now])
    months = months_between(month_text(first), month_text(now))
    counts = naive_counters(copies, now, months, owners=lambda unit, moment: naive_owners(registry, unit, moment))
    return {key: value for key, value in counts.items() if value}


# --- the properties ----------------------------------------------------------------------------------------------


def service_figures(registry: UnitRegistry, copies: list[EventFact], now: datetime) -> dict[tuple[str, str, str], int]:
    """Own counters as the consumer stores them (plus the current month's live correction), read per month."""
    states = [merge(facts) for facts in _by_dossier(copies).values()]
    own: dict[tuple[str, str, str], int] = {}
    for state in states:
        add_into(own, contribution(state, now))
    add_into(own, current_month_progress_correction(states, now))
    by_month: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for (unit, month, name), value in own.items():
        by_month[month][unit][name] = value
    view = TreeView(registry)
    out: dict[tuple[str, str, str], int] = {}
    for month, counters in by_month.items():
        for unit, figures in roll_up_month(counters, view, parse_month(month)).items():
            out.update({(unit, month, name): value for name, value in figures.items() if value})
    return out


def _by_dossier(copies: list[EventFact]) -> dict[str, list[EventFact]]:
    grouped: dict[str, list[EventFact]] = defaultdict(list)
    for fact in copies:
        grouped[fact.dossier_id].append(fact)
    return grouped


def _visible(counts: dict[tuple[str, str, str], int], now: datetime) -> dict[tuple[str, str, str], int]:
    current = month_text(now)
    return {k: v for k, v in counts.items() if k[2] not in PROGRESS_COUNTERS or k[1] <= current}


@FAST
@given(scenario=scenarios())
def test_monthly_figures_follow_successors_and_the_tree_like_the_reference(
    scenario: tuple[UnitRegistry, list[EventFact], datetime],
) -> None:
    registry, copies, now = scenario
    assert _visible(service_figures(registry, copies, now), now) == _visible(naive_figures(registry, copies, now), now)


@FAST
@given(scenario=scenarios())
def test_live_figures_count_open_dossiers_of_retired_units_for_their_successors(
    scenario: tuple[UnitRegistry, list[EventFact], datetime],
) -> None:
    registry, copies, now = scenario
    states = [merge(facts) for facts in _by_dossier(copies).values()]
    by_home = {unit: LiveFigures(c["open"], c["overdue_open"], c["due_soon"], 0)
               for unit, c in live_counters_by_unit(states, now).items()}  # fmt: skip
    actual = {unit: (f.open, f.overdue_open, f.due_soon) for unit, f in
              roll_up_live(by_home, TreeView(registry), now.astimezone(VIETNAM).date()).items()}  # fmt: skip
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for home, counts in naive_live(copies, now).items():
        for owner in naive_owners(registry, home, now):
            for index, name in enumerate(("open", "overdue_open", "due_soon")):
                expected[owner][index] += counts[name]
    assert actual == {unit: tuple(values) for unit, values in expected.items() if any(values)}


def test_a_retired_commune_keeps_its_months_and_its_open_dossiers_count_for_the_successor_after() -> None:
    """The Hanoi case: old communes retired on 2025-07-01 into a new commune directly under the city."""
    registry = UnitRegistry(
        [
            Unit("H26", "Hà Nội", UnitLevel.CITY, None),
            Unit("BD", "Quận Ba Đình", UnitLevel.DISTRICT, "H26", None, date(2025, 7, 1), "P.BD"),
            Unit("BD.TB", "Phường Trúc Bạch", UnitLevel.COMMUNE, "BD", None, date(2025, 7, 1), "P.BD"),
            Unit("BD.QT", "Phường Quán Thánh", UnitLevel.COMMUNE, "BD", None, date(2025, 7, 1), "P.BD"),
            Unit("P.BD", "Phường Ba Đình", UnitLevel.COMMUNE, "H26", date(2025, 7, 1)),
        ]
    )
    view = TreeView(registry)
    june, july = parse_month("2025-06"), parse_month("2025-07")
    own = {"BD.TB": {"received": 3}, "BD.QT": {"received": 2}, "P.BD": {"received": 1}}
    assert roll_up_month(own, view, june) == {
        "BD.TB": {"received": 3},
        "BD.QT": {"received": 2},
        "BD": {"received": 5},
        "P.BD": {"received": 1},  # a fact dated before valid_from still counts for the unit
        "H26": {"received": 6},
    }
    # A legacy system still sends the old code in July: it counts for the successor.
    assert roll_up_month(own, view, july) == {"P.BD": {"received": 6}, "H26": {"received": 6}}
    assert units_of_level_in_month(registry, "commune", june) == ["BD.QT", "BD.TB"]  # P.BD starts in July
    assert units_of_level_in_month(registry, "commune", july) == ["P.BD"]
    assert units_of_level_in_month(registry, "district", july) == []
    assert view.owners("BD.TB", datetime(2025, 7, 2, tzinfo=VIETNAM).date()) == ("P.BD", "H26")
