"""The dossier row's stored form: a change that appends records extends the loaded text (adapters/documents.py) and
must write exactly the bytes encoding the whole state gives; the merge that continues a stored derivation must
give the state derived from scratch."""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scoring.adapters.documents import (
    Loaded,
    change_documents,
    change_row,
    state_document,
    state_text,
    stored_from_rows,
)
from services.scoring.domain.apply import AncestorLookup, apply_records
from services.scoring.domain.state import DossierState, derive_state
from tests.unit.scoring.events import EventFact, record_from_fact
from tests.unit.scoring.strategies import event_copies, nows

pytestmark = pytest.mark.unit
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _row_text(state: DossierState) -> str:
    return orjson.dumps(state.to_dict()).decode()


@FAST
@given(copies=event_copies(max_dossiers=2), split=st.floats(0, 1), now=nows())
def test_written_state_equals_the_whole_encoding_in_occurred_order(
    copies: list[EventFact], split: float, now: object
) -> None:
    """Events arriving in SPEC order (the usual stream) take the append path; any order must write the same."""
    ordered = sorted(copies, key=lambda fact: (fact.occurred_at, fact.event_id))
    for arrivals in (ordered, copies):
        cut = int(len(arrivals) * split)
        first = apply_records(
            [(fact.dossier_id, record_from_fact(fact)) for fact in arrivals[:cut]], {}, now=now,
            ancestors=AncestorLookup({}),
        )  # fmt: skip
        rows = [(change.state.dossier_id, _row_text(change.state), change.evaluated_month, n)
                for n, change in enumerate(first.changes)]  # fmt: skip
        loaded: dict[str, Loaded] = {}
        stored = stored_from_rows(rows, loaded)
        assert {i: row[0] for i, row in loaded.items()} == {row[0]: row[3] for row in rows}  # versions kept
        second = apply_records(
            [(fact.dossier_id, record_from_fact(fact)) for fact in arrivals[cut:]], stored, now=now,
            ancestors=AncestorLookup({}),
        )  # fmt: skip
        for change in second.changes:
            state = change.state
            assert orjson.dumps(state_document(change)).decode() == _row_text(state)
            assert state_text(change) == _row_text(state)  # what the write statements receive
            assert state == derive_state(state.dossier_id, state.records)


@FAST
@given(copies=event_copies(max_dossiers=3), split=st.floats(0, 1), now=nows(), later=st.sampled_from((0, 0, 40)))
def test_an_update_sends_the_state_alone_exactly_when_its_small_columns_are_unchanged(
    copies: list[EventFact], split: float, now: datetime, later: int
) -> None:
    """UPDATE_STATES leaves the small columns as the row holds them: it must be chosen only when the whole
    document row would send those same values (and always then), with the version the row was loaded at."""
    cut = int(len(copies) * split)
    first = apply_records([(f.dossier_id, record_from_fact(f)) for f in copies[:cut]], {}, now=now,
                          ancestors=AncestorLookup({}))  # fmt: skip
    held = {change.state.dossier_id: change_row(change) for change in first.changes}  # the row's columns
    rows = [(c.state.dossier_id, _row_text(c.state), c.evaluated_month, 100 + n) for n, c in enumerate(first.changes)]
    loaded: dict[str, Loaded] = {}
    stored = stored_from_rows(rows, loaded)
    second = apply_records([(f.dossier_id, record_from_fact(f)) for f in copies[cut:]], stored,
                           now=now + timedelta(days=later), ancestors=AncestorLookup({}))  # fmt: skip
    _, updated, alone = change_documents(second.changes, loaded)
    documents = {row["i"]: row for row in orjson.loads(updated[0])} if updated is not None else {}
    state_ids = alone[0] if alone is not None else []
    for change in second.changes:
        dossier_id = change.state.dossier_id
        if change.created:
            continue
        assert (dossier_id in state_ids) == (change_row(change) == held[dossier_id])
        assert (dossier_id in documents) != (dossier_id in state_ids)
        if dossier_id in documents:
            assert documents[dossier_id]["x"] == loaded[dossier_id][0]
    if alone is not None:
        assert alone[1] == [state_text(c) for c in second.changes if c.state.dossier_id in state_ids]
        assert alone[2] == [loaded[i][0] for i in state_ids]
