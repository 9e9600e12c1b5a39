"""The write path's documents and parameters built from the domain's objects — pure, so it joins the compiled group.

`adapters/store.py` holds the SQL and the I/O; what it sends and what it reads back is made here: the states parsed
from the rows the select returns (`stored_from_rows`), the changed dossiers' parameters (`change_documents`: a JSON
document keyed as in store._CHANGED_ROWS and the states' texts) and the counter statement's arrays
(`counter_columns`). This runs for every changed dossier of every batch, so it is compiled with the domain
(services/scoring/compiled.py); it imports no driver (asyncpg stays in store.py), only orjson, whose encoding is
what PostgreSQL receives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import orjson

from services.scoring.domain.apply import DossierChange, StoredDossier, StoredDossierLoader
from services.scoring.domain.counters import CounterKey
from services.scoring.domain.state import DossierState

ChangedRows = tuple[str, list[str]]
"""One statement's parameters: the JSON document of the changed rows' small columns, their states' texts."""

_EVENTS_END: Final = "]]}"  # how the stored form ends: the last record's row, the events list, the object


def stored_from_rows(rows: Iterable[Sequence[Any]]) -> dict[str, StoredDossier]:
    """Rows of (dossier_id, state JSON text, evaluated_month), parsed inside the caller's batch (with the cyclic
    GC paused)."""
    loads, load = orjson.loads, StoredDossierLoader().load
    from_dict = DossierState.from_dict
    stored: dict[str, StoredDossier] = {}
    for row in rows:
        dossier_id: str = row[0]
        state: str = row[1]
        stored[dossier_id] = load(from_dict(loads(state)), row[2], state)
    return stored


def _extended_text(change: DossierChange) -> str | None:
    """The stored text of a change that appends records to a loaded row: that row's text extended with the new
    rows only — the same bytes as encoding it all again, since orjson writes each list element on its own,
    without spaces. None when the change is not such an append."""
    stored, appended = change.stored_form, change.appended
    if stored is None or not appended or not stored.endswith(_EVENTS_END):
        return None
    rows = orjson.dumps([record.to_row() for record in change.state.records[-appended:]]).decode()
    return f"{stored[:-2]},{rows[1:-1]}]}}"


def state_document(change: DossierChange) -> dict[str, Any] | orjson.Fragment:
    """The state as stored (``DossierState.to_dict`` in orjson's encoding), as a value orjson embeds."""
    text = _extended_text(change)
    return change.state.to_dict() if text is None else orjson.Fragment(text)


def state_text(change: DossierChange) -> str:
    """The state as stored, as the text PostgreSQL receives (``state_document`` encoded)."""
    text = _extended_text(change)
    return orjson.dumps(change.state.to_dict()).decode() if text is None else text


def change_row(change: DossierChange) -> dict[str, Any]:
    """One row of the changed-dossiers document (keys as in store._CHANGED_ROWS), the state apart (state_text)."""
    state = change.state
    receipt = state.receipt
    flips = state.hold_flips
    return {
        "i": state.dossier_id,
        "h": receipt.unit_id if receipt is not None else None,
        "p": state.procedure_id,
        "r": receipt.received_at if receipt is not None else None,
        "d": state.effective_due,
        "e": state.ended_at,
        # On hold per the latest known events: an odd number of hold/release flips.
        "o": flips[-1] if len(flips) % 2 == 1 else None,
        "m": change.evaluated_month,
    }


def change_documents(changes: Sequence[DossierChange]) -> tuple[ChangedRows | None, ChangedRows | None]:
    """The parameters of store.INSERT_NEW_DOSSIERS and store.UPDATE_DOSSIERS (None when there is nothing for one),
    in one pass over the changes: a JSON document of the small columns and the states' texts in the same order
    (PostgreSQL's JSON parser would otherwise lex every state token by token)."""
    created: list[dict[str, Any]] = []
    created_states: list[str] = []
    updated: list[dict[str, Any]] = []
    updated_states: list[str] = []
    for change in changes:
        if change.created:
            created.append(change_row(change))
            created_states.append(state_text(change))
        else:
            updated.append(change_row(change))
            updated_states.append(state_text(change))
    dumps = orjson.dumps
    return (
        (dumps(created).decode(), created_states) if created else None,
        (dumps(updated).decode(), updated_states) if updated else None,
    )


def counter_columns(delta: Mapping[CounterKey, int]) -> tuple[list[str], list[str], list[str], list[int]]:
    """The parameter arrays of store.ADD_TO_COUNTERS, sorted by key (the lock order)."""
    units: list[str] = []
    months: list[str] = []
    names: list[str] = []
    values: list[int] = []
    for key in sorted(delta):
        unit, month, name = key
        units.append(unit)
        months.append(month)
        names.append(name)
        values.append(delta[key])
    return units, months, names, values
