"""Counter sums as rows of native integers: what counting a batch adds to, before the (unit, month, name) table.

Counting one event adds ±1 to a few (unit, month, counter) sums. Keyed by (unit, month, name) tuples, every addition
built a tuple, hashed it and looked the dict up twice. Here one ``MonthCounts`` row per (unit, month) holds every
counter as an integer attribute (compiled with mypyc, ``row.events += sign`` is a C addition on an unboxed integer),
found by two lookups with string keys whose hashes are cached: the unit named on the fact and the month's label
(one object per month, from the timebase's table). Progress counts that run over consecutive months are kept as
steps in the same rows (a difference table: the change of the count from that month on) and summed once per
batch. ``add_into`` writes the (unit, month, name) table the rest of the service reads, zero sums left out.
"""

from __future__ import annotations

from typing import Final

from services.scoring.domain.timebase import Month, month_label
from shared.indicators import COUNTER_NAMES

CounterKey = tuple[str, str, str]
"""(unit_id, month "YYYY-MM", counter name)."""

# The counters of a row, in the order ``MonthCounts.values`` gives them: the contract's own list (a test checks each
# position against the attribute of that name).
ROW_COUNTERS: Final[tuple[str, ...]] = COUNTER_NAMES


class MonthCounts:
    """One unit's sums in one month, and the steps of the progress ranges that start or stop in it."""

    __slots__ = (
        "events",
        "events_timely",
        "month",
        "on_time_step",
        "payments",
        "payments_online",
        "progress_on_time",
        "progress_total",
        "ratings",
        "ratings_satisfied",
        "received",
        "received_digitized",
        "received_online",
        "received_reused",
        "resolved",
        "resolved_e_result",
        "resolved_on_time",
        "resolved_with_due",
        "total_step",
    )

    def __init__(self, month: Month) -> None:
        self.month = month
        self.received = 0
        self.received_online = 0
        self.received_digitized = 0
        self.received_reused = 0
        self.resolved = 0
        self.resolved_with_due = 0
        self.resolved_on_time = 0
        self.resolved_e_result = 0
        self.payments = 0
        self.payments_online = 0
        self.ratings = 0
        self.ratings_satisfied = 0
        self.events = 0
        self.events_timely = 0
        self.progress_total = 0
        self.progress_on_time = 0
        self.total_step = 0
        self.on_time_step = 0

    def values(self) -> tuple[int, ...]:
        """The sums in ``ROW_COUNTERS`` order."""
        return (self.received, self.received_online, self.received_digitized, self.received_reused, self.resolved,
                self.resolved_with_due, self.resolved_on_time, self.resolved_e_result, self.payments,
                self.payments_online, self.ratings, self.ratings_satisfied, self.events, self.events_timely,
                self.progress_total, self.progress_on_time)  # fmt: skip


class CounterTally:
    """Sums per (unit, month) row; ``add_into`` turns them into (unit, month, name) entries and starts over."""

    __slots__ = ("_stepped", "_units")

    def __init__(self) -> None:
        self._units: dict[str, dict[str, MonthCounts]] = {}
        self._stepped: set[str] = set()  # units with progress steps to sum

    def row(self, unit: str, month: Month) -> MonthCounts:
        """The row of (unit, month), created empty when new."""
        months = self._units.get(unit)
        if months is None:
            months = {}
            self._units[unit] = months
        label = month_label(month)
        row = months.get(label)
        if row is None:
            row = MonthCounts(month)
            months[label] = row
        return row

    def add_total_range(self, unit: str, first: Month, last: Month, sign: int) -> None:
        """``sign`` on progress_total of (unit, m) for every month m of [first, last] (nothing when empty)."""
        if first <= last:
            self.row(unit, first).total_step += sign
            self.row(unit, last + 1).total_step -= sign
            self._stepped.add(unit)

    def add_on_time_range(self, unit: str, first: Month, last: Month, sign: int) -> None:
        """``sign`` on progress_on_time of (unit, m) for every month m of [first, last] (nothing when empty)."""
        if first <= last:
            self.row(unit, first).on_time_step += sign
            self.row(unit, last + 1).on_time_step -= sign
            self._stepped.add(unit)

    def add_into(self, out: dict[CounterKey, int]) -> None:
        """Add every non-zero sum into ``out`` (entries of ``out`` may reach zero and are kept) and forget them."""
        get = out.get
        for unit in self._stepped:
            self._sum_steps(unit)
        for unit, months in self._units.items():
            for label, row in months.items():
                for name, value in zip(ROW_COUNTERS, row.values(), strict=True):
                    if value:
                        key = (unit, label, name)
                        out[key] = get(key, 0) + value
        self._units.clear()
        self._stepped.clear()

    def _sum_steps(self, unit: str) -> None:
        """Turn the unit's progress steps into sums over the months they span (then the steps are zero)."""
        steps = {row.month: row for row in self._units[unit].values() if row.total_step or row.on_time_step}
        if not steps:
            return
        total = on_time = 0
        for month in range(min(steps), max(steps)):
            stepped = steps.get(month)
            if stepped is not None:
                total += stepped.total_step
                on_time += stepped.on_time_step
            if total or on_time:
                row = stepped if stepped is not None else self.row(unit, month)
                row.progress_total += total
                row.progress_on_time += on_time
        for row in steps.values():
            row.total_step = row.on_time_step = 0
