"""The counting accumulator (domain/tally.py) and the merge's paths: equal to naive sums and to a merge from scratch."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.domain.state import DossierState, merge_changes, merge_records
from services.scoring.domain.tally import ROW_COUNTERS, CounterKey, CounterTally, MonthCounts
from services.scoring.domain.timebase import month_from_parts, month_label
from shared.indicators import COUNTER_NAMES
from tests.unit.scoring.events import EventFact, record_from_fact
from tests.unit.scoring.strategies import event_copies

UNITS = ("U1", "U2", "city")
FIRST = month_from_parts(2024, 11)


def test_a_row_holds_every_counter_of_the_contract() -> None:
    assert sorted(ROW_COUNTERS) == sorted(COUNTER_NAMES)
    row = MonthCounts(FIRST)
    assert row.values() == (0,) * len(ROW_COUNTERS)
    for position, name in enumerate(ROW_COUNTERS):
        setattr(row, name, position + 1)
    assert row.values() == tuple(range(1, len(ROW_COUNTERS) + 1))


def test_sums_and_ranges_go_into_the_table_once() -> None:
    tally = CounterTally()
    tally.row("U1", FIRST).events += 2
    tally.row("U1", FIRST).events -= 2  # back to zero: left out
    tally.row("U1", FIRST).received += 1
    tally.add_total_range("U2", FIRST, FIRST + 2, 1)
    tally.add_total_range("U2", FIRST + 1, FIRST + 1, -1)
    tally.add_on_time_range("U2", FIRST + 3, FIRST + 2, 1)  # empty: nothing
    out: dict[CounterKey, int] = {("U1", month_label(FIRST), "received"): 4}
    tally.add_into(out)
    assert out == {
        ("U1", month_label(FIRST), "received"): 5,
        ("U2", month_label(FIRST), "progress_total"): 1,
        ("U2", month_label(FIRST + 2), "progress_total"): 1,
    }
    again: dict[CounterKey, int] = {}
    tally.add_into(again)  # add_into forgets what it wrote
    assert again == {}


_OPERATION = st.tuples(
    st.sampled_from(("row", "total", "on_time")),
    st.sampled_from(UNITS),
    st.integers(0, 30),
    st.integers(0, 30),
    st.sampled_from((1, -1, 2)),
    st.sampled_from(ROW_COUNTERS),
)


@settings(max_examples=300, deadline=None)
@given(operations=st.lists(_OPERATION, max_size=40), flush_at=st.integers(0, 40))
def test_the_tally_equals_naive_sums(operations: list[tuple[str, str, int, int, int, str]], flush_at: int) -> None:
    naive: dict[CounterKey, int] = {}
    tally = CounterTally()
    out: dict[CounterKey, int] = {}
    for position, (kind, unit, first, length, sign, name) in enumerate(operations):
        if position == flush_at:
            tally.add_into(out)  # a batch's outcome in the middle: later additions still add up
        start = FIRST + first
        if kind == "row":
            row = tally.row(unit, start)
            setattr(row, name, getattr(row, name) + sign)
            months, counter = [start], name
        else:
            last = start + length - 5  # sometimes empty
            if kind == "total":
                tally.add_total_range(unit, start, last, sign)
            else:
                tally.add_on_time_range(unit, start, last, sign)
            months, counter = list(range(start, last + 1)), f"progress_{kind}"
        for month in months:
            key = (unit, month_label(month), counter)
            naive[key] = naive.get(key, 0) + sign
    tally.add_into(out)
    assert {key: value for key, value in out.items() if value} == {key: value for key, value in naive.items() if value}


@settings(max_examples=200, deadline=None)
@given(copies=event_copies(max_dossiers=1, max_events=30), split=st.floats(0, 1), seed=st.integers(0, 2**32 - 1))
def test_merging_into_a_stored_state_equals_merging_all(copies: list[EventFact], split: float, seed: int) -> None:
    """Short stored states are scanned, long ones (more than a dozen events) indexed; records in order or not."""
    random.Random(seed).shuffle(copies)
    records = [record_from_fact(fact) for fact in copies]
    cut = int(len(records) * split)
    dossier_id = copies[0].dossier_id
    stored = merge_records(dossier_id, records[:cut]) if cut else None
    merged = merge_changes(dossier_id, records[cut:], stored)
    everything = merge_records(dossier_id, records)
    if merged is None:
        assert stored == everything
        return
    state, gained, replaced = merged
    assert state == everything
    before = {record.event_id: record for record in (stored.records if stored else ())}
    for record in replaced:
        assert before[record.event_id] is record and record not in state.records
    assert {record.event_id for record in gained} == {
        record.event_id for record in state.records if before.get(record.event_id) is not record
    }
    assert isinstance(state, DossierState)
