"""Example-based tests of the SPEC §3 merge and of the stored form."""

from __future__ import annotations

import json

import pytest

from services.scoring.domain.state import DossierState
from services.scoring.domain.timebase import to_datetime, to_instant
from tests.unit.scoring.builders import fact, received, vn
from tests.unit.scoring.events import EventFact, merge


def test_receipt_is_the_earliest_received_event_and_names_the_home_unit() -> None:
    state = merge(
        [
            received("b", "2024-07-02 09:00:00", "2024-07-20 17:00:00", unit="U2", channel="online"),
            received("a", "2024-07-01 09:00:00", "2024-07-15 17:00:00", unit="U1", digitized=True),
        ]
    )
    assert state.receipt is not None
    assert state.receipt.event_id == "a"
    assert state.home_unit == "U1"
    assert state.receipt.channel == "direct"
    assert state.receipt.digitized is True
    assert to_datetime(state.receipt.received_at) == vn("2024-07-01 09:00:00")


def test_effective_due_comes_from_the_latest_event_carrying_one_whatever_the_arrival_order() -> None:
    events = [
        fact("r2", "resumed", "2024-07-12 08:00:00", due_at="2024-07-30 17:00:00"),
        received("r0", "2024-07-01 08:00:00", "2024-07-10 17:00:00"),
        fact("r1", "supplement_received", "2024-07-11 08:00:00", due_at="2024-08-05 17:00:00"),
        fact("r3", "resumed", "2024-07-13 08:00:00"),  # carries no due: does not reset it
    ]
    for order in (events, list(reversed(events))):
        assert merge(order).effective_due == to_instant(vn("2024-07-30 17:00:00"))


def test_resolution_withdrawal_and_rating() -> None:
    state = merge(
        [
            received("a", "2024-07-01 08:00:00", "2024-07-10 17:00:00"),
            fact("w", "withdrawn", "2024-07-05 08:00:00", unit="U1"),
            fact("z", "resolved", "2024-07-04 08:00:00", unit="U2", outcome="approved", e_result=True),
            fact("y", "resolved", "2024-07-06 08:00:00", unit="U3", outcome="refused"),
            fact("s1", "rating", "2024-07-07 08:00:00", level="dissatisfied"),
            fact("s2", "rating", "2024-07-08 08:00:00", level="satisfied"),
        ]
    )
    assert state.resolution is not None and state.resolution.event_id == "z"
    assert state.resolution.unit_id == "U2" and state.resolution.e_result
    assert state.withdrawal is not None and state.withdrawal.event_id == "w"
    assert state.ended_at == to_instant(vn("2024-07-04 08:00:00"))
    assert state.rating is not None and state.rating.level == "satisfied"
    assert not state.is_open


def test_ties_on_occurred_at_are_broken_by_event_id() -> None:
    same = "2024-07-05 10:00:00"
    state = merge(
        [
            received("r", "2024-07-01 08:00:00", "2024-07-20 17:00:00"),
            fact("h-2", "supplement_received", same),
            fact("h-1", "supplement_requested", same),
            fact("x-2", "rating", same, level="satisfied"),
            fact("x-1", "rating", same, level="dissatisfied"),
        ]
    )
    # The release (h-2) sorts after the hold (h-1): not on hold at that instant.
    assert not state.on_hold_at(to_instant(vn(same)))
    assert state.rating is not None and state.rating.event_id == "x-2"


def test_hold_timeline() -> None:
    state = merge(
        [
            received("r", "2024-07-01 08:00:00", "2024-07-20 17:00:00"),
            fact("h1", "supplement_requested", "2024-07-03 08:00:00"),
            fact("h2", "paused", "2024-07-04 08:00:00"),
            fact("r1", "supplement_received", "2024-07-05 08:00:00"),
            fact("h3", "paused", "2024-07-09 08:00:00"),
        ]
    )

    def held(at: str) -> bool:
        return state.on_hold_at(to_instant(vn(at)))

    assert not held("2024-07-03 07:59:59")
    assert held("2024-07-03 08:00:00")  # occurred_at ≤ t counts
    assert held("2024-07-04 12:00:00")
    assert not held("2024-07-05 08:00:00")
    assert held("2024-07-31 00:00:00")


def test_the_copy_with_the_earliest_ingested_at_counts() -> None:
    late_copy = received("a", "2024-07-01 08:00:00", "2024-07-30 17:00:00", ingested="2024-07-01 09:00:00")
    early_copy = received("a", "2024-07-01 08:00:00", "2024-07-10 17:00:00", ingested="2024-07-01 08:30:00")
    stored = merge([late_copy])
    updated = merge([early_copy], stored)
    assert updated.effective_due == to_instant(vn("2024-07-10 17:00:00"))
    assert updated == merge([early_copy, late_copy]) == merge([late_copy, early_copy])
    # A copy ingested later than the one that counts changes nothing, and the base state comes back as is.
    assert merge([late_copy], updated) is updated


def test_events_of_another_dossier_are_refused() -> None:
    with pytest.raises(ValueError, match="another dossier"):
        merge(
            [
                fact("a", "payment", "2024-07-01 08:00:00", method="online"),
                fact("b", "paused", "2024-07-01 08:00:00", dossier="D2"),
            ]
        )
    with pytest.raises(ValueError, match="nothing to merge"):
        merge([])


@pytest.mark.parametrize(
    ("kind", "fields", "missing"),
    [
        ("received", {"channel": "online"}, "due_at"),
        ("received", {"due_at": vn("2024-08-01 00:00:00"), "channel": "fax"}, "channel"),
        ("resolved", {}, "outcome"),
        ("payment", {"method": "cash"}, "method"),
        ("payment", {"method": "online", "amount": -1}, "amount"),
        ("rating", {"level": "meh"}, "level"),
        ("teleported", {}, "type"),
    ],
)
def test_type_specific_fields_are_checked(kind: str, fields: dict[str, object], missing: str) -> None:
    with pytest.raises(ValueError, match=missing):
        merge([fact("a", kind, "2024-07-01 08:00:00", **fields)])


def test_naive_datetimes_are_refused() -> None:
    naive = EventFact(
        "a", "D1", "U1", "paused", vn("2024-07-01 08:00:00").replace(tzinfo=None), vn("2024-07-01 08:00:00")
    )
    with pytest.raises(ValueError, match="naive"):
        merge([naive])


def test_fields_of_another_type_are_ignored() -> None:
    state = merge(
        [
            received("r", "2024-07-01 08:00:00", "2024-07-20 17:00:00"),
            fact("p", "paused", "2024-07-02 08:00:00", due_at="2024-12-31 17:00:00", level="satisfied"),
        ]
    )
    assert state.effective_due == to_instant(vn("2024-07-20 17:00:00"))
    assert state.rating is None


def test_procedure_id_prefers_the_receipt() -> None:
    state = merge(
        [
            fact("p", "payment", "2024-06-30 08:00:00", method="online", procedure_id="9.9"),
            received("r", "2024-07-01 08:00:00", "2024-07-20 17:00:00", procedure_id="1.000001"),
        ]
    )
    assert state.procedure_id == "1.000001"
    assert (
        merge([fact("p", "payment", "2024-06-30 08:00:00", method="online", procedure_id="9.9")]).procedure_id == "9.9"
    )


def test_stored_form_is_compact_json_and_round_trips() -> None:
    state = merge(
        [
            received("r", "2024-07-01 08:00:00", "2024-07-20 17:00:00", channel="online", reused_data=True),
            fact("h", "supplement_requested", "2024-07-02 08:00:00"),
            fact("s", "supplement_received", "2024-07-03 08:00:00", due_at="2024-07-25 17:00:00"),
            fact("p", "payment", "2024-07-03 09:00:00", method="counter", amount=50_000),
            fact("z", "resolved", "2024-07-04 08:00:00", outcome="approved", e_result=True),
            fact("v", "rating", "2024-07-05 08:00:00", level="very_satisfied"),
        ]
    )
    text = json.dumps(state.to_dict(), ensure_ascii=False, separators=(",", ":"))
    assert len(text) < 700
    assert DossierState.from_dict(json.loads(text)) == state
    with pytest.raises(ValueError, match="version"):
        DossierState.from_dict({"v": 99, "dossier_id": "D1", "events": []})
