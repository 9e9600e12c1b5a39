"""Example-based tests of the SPEC §4 counters, with the expected numbers worked out by hand."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import pytest

from services.scoring.domain.counters import (
    CounterKey,
    add_into,
    contribution,
    contribution_delta,
    current_month_progress_correction,
    depends_on_now,
    expand_to_ancestors,
    live_counters,
    live_counters_by_unit,
)
from services.scoring.domain.state import DossierState
from tests.unit.scoring.builders import fact, received, vn
from tests.unit.scoring.events import EventFact, merge


def states_of(events: list[EventFact]) -> list[DossierState]:
    grouped: dict[str, list[EventFact]] = defaultdict(list)
    for event in events:
        grouped[event.dossier_id].append(event)
    return [merge(group) for group in grouped.values()]


def figures(events: list[EventFact], now: datetime) -> dict[CounterKey, int]:
    """Stored contributions plus the live current-month correction: what the API would show at ``now``."""
    states = states_of(events)
    table: dict[CounterKey, int] = {}
    for state in states:
        add_into(table, contribution(state, now))
    add_into(table, current_month_progress_correction(states, now))
    return table


def progress(table: dict[CounterKey, int], month: str, unit: str = "U1") -> tuple[int, int]:
    return table.get((unit, month, "progress_on_time"), 0), table.get((unit, month, "progress_total"), 0)


def test_months_are_vietnam_calendar_months() -> None:
    # 2024-07-31T16:59:59Z is 23:59:59 on 31 July in Hanoi; one second later it is August there.
    before = received("a", "2024-07-31 23:59:59", "2024-08-10 17:00:00", dossier="A")
    after = received("b", "2024-08-01 00:00:00", "2024-08-10 17:00:00", dossier="B")
    assert before.occurred_at == datetime.fromisoformat("2024-07-31T16:59:59+00:00")
    table = figures([before, after], vn("2024-08-02 12:00:00"))
    assert table[("U1", "2024-07", "received")] == 1
    assert table[("U1", "2024-08", "received")] == 1
    assert table[("U1", "2024-07", "events")] == 1
    assert table[("U1", "2024-08", "events")] == 1


def test_an_open_overdue_dossier_is_late_in_every_month_it_stays_open() -> None:
    events = [received("a", "2024-05-10 09:00:00", "2024-05-20 17:00:00")]
    table = figures(events, vn("2024-08-15 10:00:00"))
    for month in ("2024-05", "2024-06", "2024-07", "2024-08"):
        assert progress(table, month) == (0, 1), month
    assert progress(table, "2024-04") == (0, 0)
    assert progress(table, "2024-09") == (0, 0)


def test_an_open_dossier_due_later_this_month_is_on_time_now_but_late_once_due_passes() -> None:
    events = [received("a", "2024-05-10 09:00:00", "2024-08-20 17:00:00")]
    table = figures(events, vn("2024-08-15 10:00:00"))
    for month in ("2024-05", "2024-06", "2024-07", "2024-08"):
        assert progress(table, month) == (1, 1), month
    # Stored alone, the current month is evaluated at its end (late); the live correction puts it right.
    stored = contribution(states_of(events)[0], vn("2024-08-15 10:00:00"))
    assert ("U1", "2024-08", "progress_on_time") not in stored
    assert progress(figures(events, vn("2024-08-20 17:00:00")), "2024-08") == (1, 1)  # due ≥ T at the due instant
    assert progress(figures(events, vn("2024-08-20 17:00:01")), "2024-08") == (0, 1)


def test_a_late_event_changes_a_past_month() -> None:
    now = vn("2024-08-15 10:00:00")
    receipt = received("a", "2024-06-05 09:00:00", "2024-06-20 17:00:00")
    state = merge([receipt])
    table = contribution(state, now)
    assert progress(table, "2024-06") == (0, 1)
    assert progress(table, "2024-07") == (0, 1)
    # The resolution dated 15 June only reaches us in August.
    resolution = fact("z", "resolved", "2024-06-15 09:00:00", outcome="approved", ingested="2024-08-15 09:59:00")
    updated = merge([resolution], state)
    add_into(table, contribution_delta(contribution(state, now), contribution(updated, now)))
    assert progress(table, "2024-06") == (1, 1)
    assert progress(table, "2024-07") == (0, 0)
    assert progress(table, "2024-08") == (0, 0)
    assert table[("U1", "2024-06", "resolved_on_time")] == 1
    assert ("U1", "2024-06", "events_timely") in table  # the receipt was timely
    assert table[("U1", "2024-06", "events")] == 2  # the resolution counts, but not as timely


def test_a_dossier_on_hold_at_the_end_of_a_month_is_on_time_for_that_month() -> None:
    events = [
        received("a", "2024-06-01 09:00:00", "2024-06-20 17:00:00"),
        fact("h", "supplement_requested", "2024-06-18 09:00:00"),
        fact("s", "supplement_received", "2024-07-10 09:00:00"),  # no new due: the old one stands
    ]
    now = vn("2024-08-05 10:00:00")
    table = figures(events, now)
    assert progress(table, "2024-06") == (1, 1)
    assert progress(table, "2024-07") == (0, 1)
    assert progress(table, "2024-08") == (0, 1)
    assert live_counters(states_of(events)[0], now) == {"open": 1, "overdue_open": 1, "due_soon": 0}


def test_a_hold_starting_exactly_at_the_month_end_counts() -> None:
    events = [
        received("a", "2024-06-01 09:00:00", "2024-06-20 17:00:00"),
        fact("p", "paused", "2024-07-01 00:00:00"),  # = E of June
    ]
    table = figures(events, vn("2024-07-10 10:00:00"))
    assert progress(table, "2024-06") == (1, 1)
    assert progress(table, "2024-07") == (1, 1)  # still paused


def test_a_new_due_date_extends_the_dossier() -> None:
    events = [
        received("a", "2024-06-10 09:00:00", "2024-06-20 17:00:00"),
        fact("h", "paused", "2024-06-15 09:00:00"),
        fact("r", "resumed", "2024-07-02 09:00:00", due_at="2024-07-30 17:00:00"),
        fact("z", "resolved", "2024-07-29 09:00:00", unit="U2", outcome="approved"),
    ]
    table = figures(events, vn("2024-08-05 10:00:00"))
    assert progress(table, "2024-06") == (1, 1)
    assert progress(table, "2024-07") == (1, 1)
    assert table[("U2", "2024-07", "resolved")] == 1
    assert table[("U2", "2024-07", "resolved_with_due")] == 1
    assert table[("U2", "2024-07", "resolved_on_time")] == 1


def test_resolution_exactly_at_due_is_on_time_and_a_microsecond_later_is_not() -> None:
    due = "2024-07-20 17:00:00"
    on_time = [received("a", "2024-07-01 09:00:00", due), fact("z", "resolved", due, outcome="approved")]
    late = [
        received("a", "2024-07-01 09:00:00", due),
        fact("z", "resolved", "2024-07-20 17:00:00.000001", outcome="refused"),
    ]
    now = vn("2024-08-01 12:00:00")
    assert figures(on_time, now).get(("U1", "2024-07", "resolved_on_time")) == 1
    assert progress(figures(on_time, now), "2024-07") == (1, 1)
    assert figures(late, now).get(("U1", "2024-07", "resolved_on_time")) is None
    assert progress(figures(late, now), "2024-07") == (0, 1)


def test_a_withdrawal_ends_the_dossier() -> None:
    events = [
        received("a", "2024-06-10 09:00:00", "2024-06-20 17:00:00"),
        fact("w", "withdrawn", "2024-07-02 09:00:00"),
    ]
    table = figures(events, vn("2024-09-05 10:00:00"))
    assert progress(table, "2024-06") == (0, 1)
    assert progress(table, "2024-07") == (0, 1)  # ended after its due
    assert progress(table, "2024-08") == (0, 0)
    assert not depends_on_now(states_of(events)[0])


def test_a_resolution_without_receipt_counts_as_resolved_but_has_no_due() -> None:
    events = [fact("z", "resolved", "2024-07-05 09:00:00", outcome="approved", e_result=True)]
    table = figures(events, vn("2024-07-10 00:00:00"))
    assert table[("U1", "2024-07", "resolved")] == 1
    assert table[("U1", "2024-07", "resolved_e_result")] == 1
    assert ("U1", "2024-07", "resolved_with_due") not in table
    assert progress(table, "2024-07") == (0, 0)


def test_events_timely_means_at_most_24_hours_between_occurrence_and_ingestion() -> None:
    events = [
        fact("p1", "payment", "2024-07-05 09:00:00", ingested="2024-07-06 09:00:00", method="online"),
        fact("p2", "payment", "2024-07-05 09:00:00", ingested="2024-07-06 09:00:00.000001", method="counter"),
    ]
    table = figures(events, vn("2024-07-10 00:00:00"))
    assert table[("U1", "2024-07", "events")] == 2
    assert table[("U1", "2024-07", "events_timely")] == 1
    assert table[("U1", "2024-07", "payments")] == 2
    assert table[("U1", "2024-07", "payments_online")] == 1


def test_a_new_rating_replaces_the_old_one_even_across_months_and_units() -> None:
    first = fact("s1", "rating", "2024-07-30 09:00:00", unit="U1", level="satisfied")
    second = fact("s2", "rating", "2024-08-02 09:00:00", unit="U2", level="dissatisfied")
    now = vn("2024-08-10 00:00:00")
    state = merge([first])
    table = contribution(state, now)
    assert table[("U1", "2024-07", "ratings_satisfied")] == 1
    add_into(table, contribution_delta(contribution(state, now), contribution(merge([second], state), now)))
    assert ("U1", "2024-07", "ratings") not in table
    assert table[("U2", "2024-08", "ratings")] == 1
    assert ("U2", "2024-08", "ratings_satisfied") not in table


def test_receipt_counters() -> None:
    events = [
        received("a", "2024-07-01 09:00:00", "2024-07-20 17:00:00", dossier="A", channel="online", digitized=True),
        received("b", "2024-07-01 09:00:00", "2024-07-20 17:00:00", dossier="B", channel="postal", reused_data=True),
    ]
    table = figures(events, vn("2024-07-02 00:00:00"))
    assert table[("U1", "2024-07", "received")] == 2
    assert table[("U1", "2024-07", "received_online")] == 1
    assert table[("U1", "2024-07", "received_digitized")] == 1
    assert table[("U1", "2024-07", "received_reused")] == 1


def test_rollover_only_adds_the_new_month_for_open_dossiers() -> None:
    state = merge([received("a", "2024-07-10 09:00:00", "2024-08-20 17:00:00")])
    july = contribution(state, vn("2024-07-31 23:59:59"))
    august = contribution(state, vn("2024-08-01 00:00:00"))
    assert contribution_delta(july, august) == {("U1", "2024-08", "progress_total"): 1}
    assert depends_on_now(state)


def test_live_counters_at_a_moment() -> None:
    now = vn("2024-07-10 12:00:00")
    events = [
        received("a", "2024-07-01 09:00:00", "2024-07-10 11:59:59", dossier="late"),
        received("b", "2024-07-01 09:00:00", "2024-07-10 12:00:00", dossier="soon"),
        received("c", "2024-07-01 09:00:00", "2024-07-11 11:59:59", dossier="soon-edge"),
        received("d", "2024-07-01 09:00:00", "2024-07-11 12:00:00", dossier="later", unit="U2"),
        received("e", "2024-07-01 09:00:00", "2024-07-05 12:00:00", dossier="held"),
        fact("e-h", "supplement_requested", "2024-07-04 09:00:00", dossier="held"),
        received("f", "2024-07-01 09:00:00", "2024-07-05 12:00:00", dossier="done"),
        fact("f-z", "resolved", "2024-07-06 09:00:00", dossier="done", outcome="approved"),
        fact("g-p", "payment", "2024-07-06 09:00:00", dossier="no-receipt", method="online"),
    ]
    live = live_counters_by_unit(states_of(events), now)
    assert live == {
        "U1": {"open": 4, "overdue_open": 1, "due_soon": 2},
        "U2": {"open": 1, "overdue_open": 0, "due_soon": 0},
    }


def test_correction_appears_only_in_the_current_month_for_the_home_unit() -> None:
    events = [received("a", "2024-07-01 09:00:00", "2024-07-25 17:00:00", unit="U3")]
    correction = current_month_progress_correction(states_of(events), vn("2024-07-10 00:00:00"))
    assert correction == {("U3", "2024-07", "progress_on_time"): 1}
    assert current_month_progress_correction(states_of(events), vn("2024-07-26 00:00:00")) == {}


def test_expand_to_ancestors() -> None:
    parents = {"city": None, "district": "city", "commune": "district"}
    counts = {("commune", "2024-07", "received"): 2, ("district", "2024-07", "received"): 1}
    assert expand_to_ancestors(counts, parents) == {
        ("commune", "2024-07", "received"): 2,
        ("district", "2024-07", "received"): 3,
        ("city", "2024-07", "received"): 3,
    }
    with pytest.raises(ValueError, match="cycle"):
        expand_to_ancestors(counts, {"commune": "district", "district": "commune"})
