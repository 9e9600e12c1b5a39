"""Property tests: merge is order-independent; batch and incremental counters equal the naive SPEC reference."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import datetime, timedelta

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from services.scoring.domain.counters import (
    ALL_PARTS,
    PROGRESS_COUNTERS,
    CounterKey,
    add_into,
    add_record_counts,
    add_state_counts,
    contribution,
    contribution_delta,
    current_month_progress_correction,
    depends_on_now,
    live_counters_by_unit,
    progress_correction,
)
from services.scoring.domain.state import DossierState
from services.scoring.domain.tally import CounterTally
from services.scoring.domain.timebase import to_instant
from tests.unit.scoring.events import EventFact, merge
from tests.unit.scoring.reference import (
    month_bounds,
    month_text,
    months_between,
    naive_counters,
    naive_live,
)
from tests.unit.scoring.strategies import event_copies, nows

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def by_dossier(copies: list[EventFact]) -> dict[str, list[EventFact]]:
    grouped: dict[str, list[EventFact]] = defaultdict(list)
    for fact in copies:
        grouped[fact.dossier_id].append(fact)
    return grouped


def merged_states(copies: list[EventFact]) -> dict[str, DossierState]:
    return {dossier: merge(facts) for dossier, facts in by_dossier(copies).items()}


def reference_months(copies: list[EventFact], now: datetime) -> list[str]:
    first = min([fact.occurred_at for fact in copies] + [now])
    return months_between(month_text(first), month_text(now))


def visible(counts: dict[CounterKey, int], now: datetime) -> dict[CounterKey, int]:
    """Progress counters are defined up to the current month; facts count in their own months, whatever they are."""
    current = month_text(now)
    return {
        key: value for key, value in counts.items() if value and (key[2] not in PROGRESS_COUNTERS or key[1] <= current)
    }


def stored_plus_correction(
    table: dict[CounterKey, int], states: list[DossierState], now: datetime
) -> dict[CounterKey, int]:
    combined = dict(table)
    add_into(combined, current_month_progress_correction(states, now))
    return combined


def assert_equals_reference(
    table: dict[CounterKey, int], states: list[DossierState], copies: list[EventFact], now: datetime
) -> None:
    expected = naive_counters(copies, now, reference_months(copies, now))
    actual = stored_plus_correction(table, states, now)
    assert visible(actual, now) == visible(expected, now)


@FAST
@given(copies=event_copies(), seed=st.integers(0, 2**32 - 1))
def test_merge_depends_only_on_the_set_of_events(copies: list[EventFact], seed: int) -> None:
    rng = random.Random(seed)
    reference = merged_states(copies)
    shuffled = copies + [rng.choice(copies) for _ in range(rng.randint(0, 4))]
    rng.shuffle(shuffled)
    assert merged_states(shuffled) == reference

    # Folding one event at a time into the stored state gives the same state as merging all at once.
    folded: dict[str, DossierState] = {}
    for fact in shuffled:
        folded[fact.dossier_id] = merge([fact], folded.get(fact.dossier_id))
    assert folded == reference

    for state in reference.values():
        stored = json.loads(json.dumps(state.to_dict()))
        assert DossierState.from_dict(stored) == state


@FAST
@given(copies=event_copies(max_dossiers=1), seed=st.integers(0, 2**32 - 1))
def test_copies_ingested_at_the_same_instant_resolve_deterministically(copies: list[EventFact], seed: int) -> None:
    rng = random.Random(seed)
    # Re-stamp every copy of an event_id with one ingested_at: the tie-break must then use the content.
    stamp: dict[str, datetime] = {}
    retimed = []
    for fact in copies:
        stamp.setdefault(fact.event_id, fact.ingested_at)
        retimed.append(EventFact(**{**_fields(fact), "ingested_at": stamp[fact.event_id]}))
    expected = merge(retimed)
    for _ in range(3):
        rng.shuffle(retimed)
        assert merge(retimed) == expected


def _fields(fact: EventFact) -> dict[str, object]:
    return {name: getattr(fact, name) for name in EventFact.__slots__}


@FAST
@given(copies=event_copies(), now=nows())
def test_batch_counters_equal_the_reference(copies: list[EventFact], now: datetime) -> None:
    states = list(merged_states(copies).values())
    table: dict[CounterKey, int] = {}
    by_ranges: dict[CounterKey, int] = {}  # as the consumer's batches add them: one tally for all the dossiers
    tally = CounterTally()
    for state in states:
        add_into(table, contribution(state, now))
        add_record_counts(tally, state.records, 1)
        add_state_counts(tally, state, now, 1, ALL_PARTS)
    assert_equals_reference(table, states, copies, now)
    tally.add_into(by_ranges)
    assert {key: value for key, value in by_ranges.items() if value} == table
    live = live_counters_by_unit(states, now)
    assert live == naive_live(copies, now)


@FAST
@given(
    copies=event_copies(),
    first_now=nows(),
    later_by=st.sampled_from(
        (timedelta(0), timedelta(microseconds=1), timedelta(hours=5), timedelta(days=31), timedelta(days=70))
    ),
    split_fraction=st.floats(0, 1),
    seed=st.integers(0, 2**32 - 1),
)
def test_incremental_maintenance_with_rollover_equals_the_reference(
    copies: list[EventFact], first_now: datetime, later_by: timedelta, split_fraction: float, seed: int
) -> None:
    rng = random.Random(seed)
    arrivals = copies + [rng.choice(copies) for _ in range(rng.randint(0, 3))]
    rng.shuffle(arrivals)
    split = int(len(arrivals) * split_fraction)
    table: dict[CounterKey, int] = {}
    states: dict[str, DossierState] = {}

    def apply(fact: EventFact, now: datetime) -> None:
        old = states.get(fact.dossier_id)
        new = merge([fact], old)
        if new is old:
            return
        states[fact.dossier_id] = new
        add_into(table, contribution_delta(contribution(old, now) if old else None, contribution(new, now)))

    for fact in arrivals[:split]:
        apply(fact, first_now)
    if split:
        assert_equals_reference(table, list(states.values()), arrivals[:split], first_now)

    # The calendar moves on: the service re-applies the open dossiers; the others must not change at all.
    later_now = first_now + later_by
    for state in states.values():
        delta = contribution_delta(contribution(state, first_now), contribution(state, later_now))
        if depends_on_now(state):
            add_into(table, delta)
        else:
            assert delta == {}

    for fact in arrivals[split:]:
        apply(fact, later_now)
    assert_equals_reference(table, list(states.values()), arrivals, later_now)


@FAST
@given(copies=event_copies(), now=nows())
def test_correction_is_the_simple_formula_when_nothing_is_dated_after_now(
    copies: list[EventFact], now: datetime
) -> None:
    past = [fact for fact in copies if fact.occurred_at <= now]
    assume(past)
    _, month_end = month_bounds(month_text(now))
    for state in merged_states(past).values():
        due = state.effective_due
        expected = int(
            state.receipt is not None
            and state.ended_at is None
            and due is not None
            and not state.on_hold_at(to_instant(now))
            and to_instant(now) <= due < to_instant(month_end)
        )
        assert progress_correction(state, now) == expected
