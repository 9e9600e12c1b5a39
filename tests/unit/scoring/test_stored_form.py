"""The dossier row's stored form: a change that appends records extends the loaded text (adapters/documents.py) and
must write exactly the bytes encoding the whole state gives; the merge that continues a stored derivation must
give the state derived from scratch."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scoring.adapters.documents import state_document, state_text, stored_from_rows
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
        rows = [(change.state.dossier_id, _row_text(change.state), change.evaluated_month) for change in first.changes]
        stored = stored_from_rows(rows)
        second = apply_records(
            [(fact.dossier_id, record_from_fact(fact)) for fact in arrivals[cut:]], stored, now=now,
            ancestors=AncestorLookup({}),
        )  # fmt: skip
        for change in second.changes:
            state = change.state
            assert orjson.dumps(state_document(change)).decode() == _row_text(state)
            assert state_text(change) == _row_text(state)  # what the write statements receive
            assert state == derive_state(state.dossier_id, state.records)
