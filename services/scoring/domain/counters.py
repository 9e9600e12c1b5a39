"""Monthly counters (SPEC §4) as one dossier's contribution, built for incremental maintenance.

The service stores per-(unit, month, counter) sums. When a dossier gains events it adds
``contribution(new_state, now) - contribution(old_state, now)``; when the calendar month changes it re-applies
the open dossiers (a roll-over). Units are the ones named on the facts; adding to ancestors is the adapter's
job (or ``expand_to_ancestors``).

Progress counters are time-dependent; the contribution makes them depend on ``now`` only through month(now):

- an ENDED dossier is in play from its receipt month to its end month; in its end month it is on time iff it
  ended at or before its effective due; in every earlier month M it is evaluated at M's end E (due ≥ E or on
  hold at E) — exactly the SPEC's T = min(now, E) = E once E has passed;
- an OPEN dossier is in play from its receipt month through month(now), every month evaluated at its end E,
  the current month included — "as if the month had already ended".

Past months are therefore final; only the current month needs the live correction of
``progress_correction`` (on time at now minus on time at E), which the query side adds. With it,
stored + correction equals the SPEC definition at any now, for every month up to month(now).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Final

from services.scoring.domain.facts import PAYMENT, SATISFIED_LEVELS, FactRecord
from services.scoring.domain.state import DossierState, Receipt
from services.scoring.domain.tally import CounterKey, CounterTally
from services.scoring.domain.timebase import DAY_US, Instant, Month, month_end, month_label, month_of, to_instant
from shared.indicators import LIVE_COUNTER_NAMES  # the names are the shared contract's

PROGRESS_COUNTERS: Final[frozenset[str]] = frozenset({"progress_total", "progress_on_time"})

Contribution = dict[CounterKey, int]


def _instant(now: datetime | Instant) -> Instant:
    return now if isinstance(now, int) else to_instant(now)


def contribution(state: DossierState, now: datetime | Instant) -> Contribution:
    """One dossier's counts, keyed by (unit named on the fact, month, counter); zero counts are omitted.

    Only month(now) matters, so the old and new contributions of a diff must use a ``now`` in the month the
    stored table is rolled to. It is the sum of two parts with disjoint counters: ``add_record_counts`` (each
    distinct event on its own, independent of now) and ``add_state_counts`` (what the merged state derives).
    """
    tally = CounterTally()
    add_record_counts(tally, state.records, 1)
    add_state_counts(tally, state, now, 1)
    out: Contribution = {}
    tally.add_into(out)
    return out


RECORD_COUNTERS: Final[frozenset[str]] = frozenset({"events", "events_timely", "payments", "payments_online"})
"""The counters of ``add_record_counts``: one event's own counts, whatever else the dossier holds."""


def add_record_counts(tally: CounterTally, records: Iterable[FactRecord], sign: int) -> None:
    """Add ``sign`` × each record's own counts to ``tally``.

    A record's counts depend on the record alone, so a merge changes them by the records it adds minus the copies
    they replace — the consumer never recounts a dossier's other events.
    """
    row = tally.row
    for record in records:
        occurred = record.occurred_at
        counts = row(record.unit_id, month_of(occurred))
        counts.events += sign
        if record.ingested_at - occurred <= DAY_US:
            counts.events_timely += sign
        if record.type == PAYMENT:
            counts.payments += sign
            if record.method == "online":
                counts.payments_online += sign


def state_contribution(state: DossierState, now: datetime | Instant) -> Contribution:
    """The counts the merged state derives (receipt, resolution, rating, progress), without the records' own."""
    tally = CounterTally()
    add_state_counts(tally, state, now, 1)
    out: Contribution = {}
    tally.add_into(out)
    return out


# The four parts of a state's counts (disjoint counters), so that a merge recounts only those its events changed.
# Final: compiled, each is a C constant.
RECEIPT_PART: Final = 1
RESOLUTION_PART: Final = 2
RATING_PART: Final = 4
PROGRESS_PART: Final = 8
ALL_PARTS: Final = RECEIPT_PART | RESOLUTION_PART | RATING_PART | PROGRESS_PART


def changed_parts(old: DossierState, new: DossierState, same_month: bool) -> int:
    """The parts of ``add_state_counts`` whose inputs differ between two states of a dossier (``same_month``: both
    evaluated in one month — only progress depends on it). A part with equal inputs counts the same in both, so
    ``new − old`` of it is zero and need not be computed."""
    parts = 0 if same_month else PROGRESS_PART
    if new.receipt != old.receipt:
        parts |= RECEIPT_PART | RESOLUTION_PART | PROGRESS_PART
    if new.effective_due != old.effective_due or new.resolution != old.resolution:
        parts |= RESOLUTION_PART | PROGRESS_PART
    if new.withdrawal != old.withdrawal or new.hold_flips != old.hold_flips:
        parts |= PROGRESS_PART
    if new.rating != old.rating:
        parts |= RATING_PART
    return parts


def add_state_counts(
    tally: CounterTally, state: DossierState, now: datetime | Instant, sign: int, parts: int = ALL_PARTS
) -> None:
    """Add ``sign`` × the state's derived counts to ``tally``, of the given ``parts`` only: receipt (received*),
    resolution (resolved*), rating (ratings*), progress (progress_*, as month ranges where they run over
    consecutive months)."""
    receipt = state.receipt
    due = state.effective_due
    if receipt is not None and parts & RECEIPT_PART:
        counts = tally.row(receipt.unit_id, month_of(receipt.received_at))
        counts.received += sign
        if receipt.channel == "online":
            counts.received_online += sign
        if receipt.digitized:
            counts.received_digitized += sign
        if receipt.reused_data:
            counts.received_reused += sign

    resolution = state.resolution
    if resolution is not None and parts & RESOLUTION_PART:
        counts = tally.row(resolution.unit_id, month_of(resolution.resolved_at))
        counts.resolved += sign
        if receipt is not None and due is not None:
            counts.resolved_with_due += sign
            if resolution.resolved_at <= due:
                counts.resolved_on_time += sign
        if resolution.e_result:
            counts.resolved_e_result += sign

    rating = state.rating
    if rating is not None and parts & RATING_PART:
        counts = tally.row(rating.unit_id, month_of(rating.rated_at))
        counts.ratings += sign
        if rating.level in SATISFIED_LEVELS:
            counts.ratings_satisfied += sign

    if receipt is not None and due is not None and parts & PROGRESS_PART:
        _add_progress(tally, state, receipt, due, month_of(_instant(now)), sign)


def _add_progress(
    tally: CounterTally, state: DossierState, receipt: Receipt, due: Instant, current_month: Month, sign: int
) -> None:
    """progress_total in every month the dossier is in play, progress_on_time in those it is on time in: evaluated
    at the month's end E except in its end month (module docstring). Months on time because due ≥ E run from the
    first month to a last one, so both counts are month ranges; a hold at E adds single months after that."""
    home, ended = receipt.unit_id, state.ended_at
    first = month_of(receipt.received_at)
    last = month_of(ended) if ended is not None else current_month
    if first > last:
        return
    tally.add_total_range(home, first, last, sign)
    evaluated_last = last - 1 if ended is not None else last  # the months evaluated at their end E
    # due >= E(m) = month_start(m + 1) exactly when month_of(due) >= m + 1.
    due_last = min(evaluated_last, month_of(due) - 1)
    tally.add_on_time_range(home, first, due_last, sign)
    if state.hold_flips:  # after due_last only a hold at E keeps a month on time
        for month in range(max(first, due_last + 1), evaluated_last + 1):
            if state.on_hold_at(month_end(month)):
                tally.row(home, month).progress_on_time += sign
    if ended is not None and ended <= due:
        tally.row(home, last).progress_on_time += sign


def depends_on_now(state: DossierState) -> bool:
    """Whether the contribution changes when the month rolls over: open dossiers only."""
    return state.receipt is not None and state.ended_at is None


def contribution_delta(old: Mapping[CounterKey, int] | None, new: Mapping[CounterKey, int]) -> Contribution:
    """``new - old`` without zero entries: what to add to the stored sums."""
    delta: Contribution = dict(new)
    if old:
        for key, value in old.items():
            remaining = delta.get(key, 0) - value
            if remaining:
                delta[key] = remaining
            else:
                delta.pop(key, None)
    return delta


def add_into(table: dict[CounterKey, int], delta: Mapping[CounterKey, int]) -> None:
    """Add a delta to a counter table in place, dropping entries that reach zero."""
    for key, value in delta.items():
        total = table.get(key, 0) + value
        if total:
            table[key] = total
        else:
            table.pop(key, None)


def _on_time_at(state: DossierState, due: Instant, instant: Instant) -> bool:
    return due >= instant or state.on_hold_at(instant)


def progress_correction(state: DossierState, now: datetime | Instant) -> int:
    """This dossier's live correction to progress_on_time of month(now), at its home unit.

    The stored value evaluates every in-play dossier that has not ended before E at E; the SPEC evaluates
    it at T = now. The correction is on_time(now) − on_time(E). When no event is dated after ``now`` it is
    +1 exactly for open dossiers not on hold now with now ≤ effective due < E, and 0 otherwise.
    """
    receipt = state.receipt
    due = state.effective_due
    if receipt is None or due is None:
        return 0
    now_instant = _instant(now)
    end = month_end(month_of(now_instant))
    if receipt.received_at >= end:
        return 0
    ended = state.ended_at
    if ended is not None and ended < end:
        return 0
    return int(_on_time_at(state, due, now_instant)) - int(_on_time_at(state, due, end))


def current_month_progress_correction(states: Iterable[DossierState], now: datetime | Instant) -> dict[CounterKey, int]:
    """Sum of ``progress_correction`` per home unit, keyed like a contribution; zero entries omitted."""
    now_instant = _instant(now)
    label = month_label(month_of(now_instant))
    out: dict[CounterKey, int] = {}
    for state in states:
        correction = progress_correction(state, now_instant)
        if correction and state.receipt is not None:
            key = (state.receipt.unit_id, label, "progress_on_time")
            total = out.get(key, 0) + correction
            if total:
                out[key] = total
            else:
                del out[key]
    return out


def live_counters(state: DossierState, now: datetime | Instant) -> dict[str, int]:
    """SPEC §4 live counters of one dossier at ``now`` (0/1 each), for its home unit.

    "Open" means a receipt is known and neither a resolution nor a withdrawal is known, whatever their
    timestamps; "on hold now" and the due comparisons are evaluated at ``now``.
    """
    counts = dict.fromkeys(LIVE_COUNTER_NAMES, 0)
    due = state.effective_due
    if state.receipt is None or due is None or state.ended_at is not None:
        return counts
    counts["open"] = 1
    now_instant = _instant(now)
    if state.on_hold_at(now_instant):
        return counts
    if due < now_instant:
        counts["overdue_open"] = 1
    elif due < now_instant + DAY_US:
        counts["due_soon"] = 1
    return counts


def live_counters_by_unit(states: Iterable[DossierState], now: datetime | Instant) -> dict[str, dict[str, int]]:
    """Live counters summed per home unit (units named on receipts; ancestors not added)."""
    now_instant = _instant(now)
    out: dict[str, dict[str, int]] = {}
    for state in states:
        if state.receipt is None:
            continue
        counts = live_counters(state, now_instant)
        if not counts["open"]:
            continue
        unit_counts = out.setdefault(state.receipt.unit_id, dict.fromkeys(LIVE_COUNTER_NAMES, 0))
        for name, value in counts.items():
            unit_counts[name] += value
    return out


def expand_to_ancestors(counts: Mapping[CounterKey, int], parent_of: Mapping[str, str | None]) -> dict[CounterKey, int]:
    """Add every count to its unit and all the unit's ancestors (SPEC §1: a unit covers its descendants)."""
    out: dict[CounterKey, int] = {}
    for (unit, month, name), value in counts.items():
        seen: set[str] = set()
        current: str | None = unit
        while current is not None:
            if current in seen:
                raise ValueError(f"cây đơn vị có vòng lặp tại {current} / unit tree has a cycle at {current}")
            seen.add(current)
            key = (current, month, name)
            out[key] = out.get(key, 0) + value
            current = parent_of.get(current)
    return {key: value for key, value in out.items() if value}
