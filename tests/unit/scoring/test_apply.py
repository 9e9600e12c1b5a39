"""The batch core of the consumer: merge into stored dossiers, counter deltas up the unit tree, roll-over."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.domain.apply import (
    AncestorLookup,
    BatchApplication,
    StoredDossier,
    StoredDossierLoader,
    group_by_dossier,
    roll_over,
)
from services.scoring.domain.counters import contribution, expand_to_ancestors
from tests.unit.scoring.builders import fact, received, vn
from tests.unit.scoring.events import EventFact, apply_facts, record_from_fact

PARENTS = {"CITY": None, "DIST": "CITY", "COMM": "DIST", "DEPT": "CITY"}
TREE = AncestorLookup(PARENTS)
NOW = vn("2026-09-20 10:00")


def store(outcome, stored: dict[str, StoredDossier]) -> dict[str, StoredDossier]:
    """What the adapter persists after a batch — each changed dossier's state and evaluated month — as it loads it
    back (the contribution recomputed by StoredDossierLoader)."""
    updated = dict(stored)
    loader = StoredDossierLoader()
    for change in outcome.changes:
        loaded = loader.load(change.state, change.evaluated_month)
        assert loaded.contribution == change.contribution  # what was added is what a load gives back
        updated[change.state.dossier_id] = loaded
    return updated


def add(table: dict, delta: dict) -> None:
    for key, value in delta.items():
        table[key] = table.get(key, 0) + value
        if not table[key]:
            del table[key]


def events_of_two_dossiers() -> list[EventFact]:
    return [
        received("a1", "2026-09-01 09:00", "2026-09-04 17:00", unit="COMM", dossier="A", channel="online"),
        fact("a2", "resolved", "2026-09-03 10:00", unit="COMM", dossier="A", outcome="approved", e_result=True),
        fact("a3", "payment", "2026-09-01 09:05", unit="COMM", dossier="A", method="online", amount=1000),
        received("b1", "2026-09-02 09:00", "2026-09-03 17:00", unit="DEPT", dossier="B"),
        fact("b2", "supplement_requested", "2026-09-02 15:00", unit="DEPT", dossier="B"),
    ]


def test_counter_delta_reaches_every_ancestor() -> None:
    outcome = apply_facts(events_of_two_dossiers(), {}, now=NOW, ancestors=TREE)
    delta = outcome.counter_delta
    for unit in ("COMM", "DIST", "CITY"):
        assert delta[(unit, "2026-09", "received_online")] == 1
        assert delta[(unit, "2026-09", "resolved_on_time")] == 1
    assert delta[("DEPT", "2026-09", "received")] == 1
    assert delta[("CITY", "2026-09", "received")] == 2
    assert ("DIST", "2026-09", "received") in delta and delta[("DIST", "2026-09", "received")] == 1
    assert outcome.touched_units == {"COMM", "DIST", "CITY", "DEPT"}
    assert outcome.duplicates == 0


def test_replaying_a_batch_changes_nothing() -> None:
    events = events_of_two_dossiers()
    first = apply_facts(events, {}, now=NOW, ancestors=TREE)
    stored = store(first, {})
    again = apply_facts(events, stored, now=NOW, ancestors=TREE)
    assert again.changes == [] and again.counter_delta == {} and again.duplicates == len(events)


def test_late_event_moves_counts_between_months_and_units() -> None:
    events = events_of_two_dossiers()
    stored = store(apply_facts(events, {}, now=NOW, ancestors=TREE), {})
    # B is resolved late, in October, by the commune (another unit than its home).
    late = fact("b3", "resolved", "2026-10-02 09:00", unit="COMM", dossier="B", outcome="refused")
    outcome = apply_facts([late], stored, now=vn("2026-10-05 09:00"), ancestors=TREE)
    delta = outcome.counter_delta
    assert delta[("COMM", "2026-10", "resolved")] == 1 and delta[("CITY", "2026-10", "resolved")] == 1
    assert ("DEPT", "2026-10", "resolved") not in delta
    assert {"COMM", "DIST", "CITY", "DEPT"} <= outcome.touched_units


def test_roll_over_brings_open_dossiers_into_the_new_month() -> None:
    events = events_of_two_dossiers()
    stored = store(apply_facts(events, {}, now=NOW, ancestors=TREE), {})
    open_only = {k: v for k, v in stored.items() if k == "B"}
    outcome = roll_over(open_only, now=vn("2026-10-01 00:00"), ancestors=TREE)
    assert outcome.counter_delta[("DEPT", "2026-10", "progress_total")] == 1
    assert outcome.counter_delta[("CITY", "2026-10", "progress_total")] == 1
    assert [c.evaluated_month for c in outcome.changes] == ["2026-10"]


def test_loaded_contribution_is_the_one_of_the_evaluated_month_not_of_now() -> None:
    changes = apply_facts(events_of_two_dossiers(), {}, now=NOW, ancestors=TREE).changes
    open_b = next(change for change in changes if change.state.dossier_id == "B")
    assert open_b.evaluated_month == "2026-09"
    # Loaded in November, B (still open) must give back its September contribution: no October/November progress.
    loaded = StoredDossierLoader().load(open_b.state, "2026-09")
    assert loaded.contribution == open_b.contribution
    assert ("DEPT", "2026-10", "progress_total") not in loaded.contribution
    assert loaded.contribution != contribution(open_b.state, vn("2026-11-02 09:00"))


def records_by_dossier(events: list[EventFact]) -> list[tuple[str, list]]:
    grouped, _ = group_by_dossier((event.dossier_id, record_from_fact(event)) for event in events)
    return sorted(grouped.items())


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False))
def test_dossiers_created_meanwhile_by_another_consumer_are_merged_not_overwritten(rng: random.Random) -> None:
    """Two consumers load the same new dossiers (nothing stored yet); the first one's rows win the insert, the
    second merges its records into them (reapply_existing): the table ends as if one consumer applied both."""
    events = [
        *events_of_two_dossiers(),
        fact("b3", "supplement_received", "2026-09-05 09:00", unit="DEPT", dossier="B", due_at="2026-09-08 17:00"),
        fact("b4", "rating", "2026-09-09 09:00", unit="DEPT", dossier="B", level="satisfied"),
    ]
    mine = [event for event in events if rng.random() < 0.6]
    theirs = [event for event in events if rng.random() < 0.6]
    first = apply_facts(theirs, {}, now=NOW, ancestors=TREE)
    committed = store(first, {})
    table: dict = {}
    add(table, first.counter_delta)

    second = BatchApplication({}, now=NOW, ancestors=TREE, events=len(mine))
    created = second.apply(records_by_dossier(mine))
    conflicts = {change.state.dossier_id for change in created if change.created} & set(committed)
    second.reapply_existing({dossier_id: committed[dossier_id] for dossier_id in sorted(conflicts)})
    outcome = second.outcome()
    add(table, outcome.counter_delta)
    final = store(outcome, committed)

    expected_outcome = apply_facts(theirs + mine, {}, now=NOW, ancestors=TREE)
    assert table == expected_outcome.counter_delta
    assert {k: v.state for k, v in final.items()} == {c.state.dossier_id: c.state for c in expected_outcome.changes}
    assert outcome.duplicates == len(mine) - len({e.event_id for e in mine} - {e.event_id for e in theirs})
    assert all(not change.created for change in outcome.changes if change.state.dossier_id in conflicts)


def test_ancestor_chain_of_unknown_unit_is_itself_and_cycles_stop() -> None:
    assert TREE.chain("NOWHERE") == ("NOWHERE",)
    assert AncestorLookup({"A": "B", "B": "A"}).chain("A") == ("A", "B")


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=1, max_value=5))
def test_any_split_into_batches_gives_the_same_table(rng: random.Random, batches: int) -> None:
    events = [
        *events_of_two_dossiers(),
        fact("a2", "resolved", "2026-09-03 10:00", unit="COMM", dossier="A", outcome="approved", e_result=True,
             ingested="2026-09-03 10:00"),  # an earlier-ingested copy of a2 wins
        fact("b3", "supplement_received", "2026-09-05 09:00", unit="DEPT", dossier="B", due_at="2026-09-08 17:00"),
        fact("b4", "rating", "2026-09-09 09:00", unit="DEPT", dossier="B", level="satisfied"),
    ]  # fmt: skip
    rng.shuffle(events)
    cuts = sorted(rng.sample(range(1, len(events)), k=min(batches - 1, len(events) - 1)))
    stored: dict[str, StoredDossier] = {}
    table: dict = {}
    for start, end in zip([0, *cuts], [*cuts, len(events)], strict=True):
        outcome = apply_facts(events[start:end], stored, now=NOW, ancestors=TREE)
        stored = store(outcome, stored)
        add(table, outcome.counter_delta)
    # Whatever the batching, the table equals the fresh contributions of the final states, expanded.
    expected: dict = {}
    for dossier in stored.values():
        add(expected, expand_to_ancestors(contribution(dossier.state, NOW), PARENTS))
    assert table == expected
