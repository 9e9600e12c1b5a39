"""Figures of every unit from the stored OWN counters: the effective-unit rule and the subtree sums (SPEC §1).

`unit_month_counters` holds, per (unit named on the facts, month, counter), what those facts add — nothing is
added to ancestors or successors when a batch is applied. Reading a month resolves each named unit to the unit
its facts count for in that month (``UnitRegistry.effective_unit``: the successor chain followed while the month
is on or after a unit's ``valid_to``) and adds the result to that unit and every ancestor in the CURRENT tree.
So a move, a merge or a retirement is only a registry write: no stored figure has to be rewritten.

Registry boundaries (``valid_from``, ``valid_to``) are first days of months (shared/units.py checks it), so every
fact of a month resolves alike and a month's own counters are the whole input: a month is resolved on its last
day. The live counters resolve a dossier's home unit on today's date (Vietnam time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta

from services.scoring.domain.timebase import Month, month_from_parts
from shared.units import UnitRegistry

OwnCounters = Mapping[str, Mapping[str, int]]
"""unit named on the facts → counter → value (one month)."""


def month_first_day(month: Month) -> date:
    year, month0 = divmod(month, 12)
    return date(year, month0 + 1, 1)


def month_last_day(month: Month) -> date:
    return month_first_day(month + 1) - timedelta(days=1)


def month_of_day(day: date) -> Month:
    return month_from_parts(day.year, day.month)


class TreeView:
    """The registry's tree and effective-unit rule, with the chains each lookup needs cached."""

    def __init__(self, registry: UnitRegistry) -> None:
        self.registry = registry
        self._chains: dict[str, tuple[str, ...]] = {}
        self._effective: dict[tuple[str, date], str] = {}

    def chain(self, unit_id: str) -> tuple[str, ...]:
        """The unit, its parent, … up to the city; a unit unknown to the registry is a root of its own."""
        cached = self._chains.get(unit_id)
        if cached is None:
            ancestors = self.registry.ancestors(unit_id) if unit_id in self.registry else []
            cached = self._chains[unit_id] = (unit_id, *ancestors)
        return cached

    def effective(self, unit_id: str, day: date) -> str:
        key = (unit_id, day)
        found = self._effective.get(key)
        if found is None:
            found = self._effective[key] = self.registry.effective_unit(unit_id, day)
        return found

    def owners(self, unit_id: str, day: date) -> tuple[str, ...]:
        """Every unit whose figures include a fact dated `day` that names `unit_id`."""
        return self.chain(self.effective(unit_id, day))


def roll_up_month(own: OwnCounters, view: TreeView, month: Month) -> dict[str, dict[str, int]]:
    """Each unit's figures for `month`: the own counters of every named unit whose facts count for it or for a
    unit below it. Units with no figures are absent."""
    day = month_last_day(month)
    totals: dict[str, dict[str, int]] = {}
    for named, counters in own.items():
        for owner in view.owners(named, day):
            figures = totals.get(owner)
            if figures is None:
                figures = totals[owner] = {}
            for name, value in counters.items():
                figures[name] = figures.get(name, 0) + value
    return totals


def patch_month_roll_up(
    before: OwnCounters, rolled: Mapping[str, dict[str, int]], own: OwnCounters, view: TreeView, month: Month
) -> tuple[dict[str, dict[str, int]], set[str]] | None:
    """`roll_up_month(own, view, month)` from the roll-up of `before` (same view): only the units whose figures a
    changed named unit feeds are new dicts, every other unit keeps its dict object (the read tables reuse a unit's
    row while its dict is the same object). Returns (figures, units whose figures changed), or None when the change
    is not a pure addition the sums can absorb (a named unit or a counter gone): the caller then rolls up in full.
    A committed batch names few units, so this costs what the batch changed, not what the month holds."""
    day = month_last_day(month)
    totals = dict(rolled)
    copied: set[str] = set()
    for named, counters in own.items():
        old = before.get(named)
        if old is counters or old == counters:
            continue
        old = old or {}
        if not old.keys() <= counters.keys():
            return None
        for owner in view.owners(named, day):
            if owner not in copied:
                totals[owner] = dict(totals.get(owner, {}))
                copied.add(owner)
            figures = totals[owner]
            for name, value in counters.items():
                figures[name] = figures.get(name, 0) + value - old.get(name, 0)
    if not before.keys() <= own.keys():
        return None
    return totals, copied


def roll_up_by_home(values: Mapping[str, tuple[int, ...]], view: TreeView, day: date) -> dict[str, tuple[int, ...]]:
    """Per-home-unit tuples of live figures summed into each unit's (effective unit, then ancestors) on `day`."""
    totals: dict[str, list[int]] = {}
    for home, figures in values.items():
        for owner in view.owners(home, day):
            total = totals.get(owner)
            if total is None:
                totals[owner] = list(figures)
            else:
                for index, value in enumerate(figures):
                    total[index] += value
    return {unit_id: tuple(total) for unit_id, total in totals.items()}


def units_of_level_in_month(registry: UnitRegistry, level: str, month: Month) -> list[str]:
    """Units of `level` that exist at some time in `month` (SPEC §5: the units a month's ranking lists)."""
    first, end = month_first_day(month), month_first_day(month + 1)
    return [u.unit_id for u in registry if str(u.level) == level and u.exists_during(first, end)]


def touched_owners(named_units: Iterable[str], view: TreeView, day: date) -> set[str]:
    """The units whose figures change when facts naming `named_units` change (for the indicators publisher)."""
    out: set[str] = set()
    for unit_id in named_units:
        out.update(view.chain(unit_id))
        out.update(view.owners(unit_id, day))
    return out
