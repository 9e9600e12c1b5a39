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
ChangedStates = tuple[list[str], list[str], list[int]]
"""store.UPDATE_STATES's parameters: the dossier ids, their states' texts, the versions they were loaded at."""
Loaded = tuple[int, str, DossierState]
"""A dossier row as this transaction loaded it: its version (xmin), its evaluated month, its state."""

_EVENTS_END: Final = "]]}"  # how the stored form ends: the last record's row, the events list, the object


def stored_from_rows(rows: Iterable[Sequence[Any]], loaded: dict[str, Loaded]) -> dict[str, StoredDossier]:
    """Rows of (dossier_id, state JSON text, evaluated_month, row version), parsed inside the caller's batch (with
    the cyclic GC paused); each row as loaded goes into ``loaded`` (its version for the update's check, its month
    and state to tell an update that changes the state alone)."""
    loads, load = orjson.loads, StoredDossierLoader().load
    from_dict = DossierState.from_dict
    stored: dict[str, StoredDossier] = {}
    for row in rows:
        dossier_id: str = row[0]
        text: str = row[1]
        month: str = row[2]
        state = from_dict(loads(text))
        stored[dossier_id] = load(state, month, text)
        loaded[dossier_id] = (row[3], month, state)
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


def _hold_since(state: DossierState) -> int | None:
    """On hold per the latest known events: an odd number of hold/release flips."""
    flips = state.hold_flips
    return flips[-1] if len(flips) % 2 == 1 else None


def change_row(change: DossierChange) -> dict[str, Any]:
    """One row of the changed-dossiers document (keys as in store._CHANGED_ROWS), the state apart (state_text)."""
    state = change.state
    receipt = state.receipt
    return {
        "i": state.dossier_id,
        "h": receipt.unit_id if receipt is not None else None,
        "p": state.procedure_id,
        "r": receipt.received_at if receipt is not None else None,
        "d": state.effective_due,
        "e": state.ended_at,
        "o": _hold_since(state),
        "m": change.evaluated_month,
    }


def same_columns(change: DossierChange, row: Loaded) -> bool:
    """``change_row`` of the change would send what the loaded row holds (its columns were written from its state
    by the same rule): a payment, a return, a rating, a duplicate receipt — only the state needs writing."""
    _, month, stored = row
    state = change.state
    return (
        change.evaluated_month == month
        and state.receipt == stored.receipt
        and state.procedure_id == stored.procedure_id
        and state.effective_due == stored.effective_due
        and state.ended_at == stored.ended_at
        and _hold_since(state) == _hold_since(stored)
    )


def change_documents(
    changes: Sequence[DossierChange], loaded: Mapping[str, Loaded]
) -> tuple[ChangedRows | None, ChangedRows | None, ChangedStates | None]:
    """The parameters of store.INSERT_NEW_DOSSIERS, store.UPDATE_DOSSIERS and store.UPDATE_STATES (None when there
    is nothing for one), in one pass over the changes: a JSON document of the small columns and the states' texts
    in the same order (PostgreSQL's JSON parser would otherwise lex every state token by token); an update whose
    small columns are unchanged sends its id and state only (no document row to parse, no times to convert). An
    updated row carries the version it was loaded at (``loaded``; a row not loaded gets a version no row has)."""
    created: list[dict[str, Any]] = []
    created_states: list[str] = []
    updated: list[dict[str, Any]] = []
    updated_states: list[str] = []
    state_ids: list[str] = []
    state_texts: list[str] = []
    state_versions: list[int] = []
    for change in changes:
        if change.created:
            created.append(change_row(change))
            created_states.append(state_text(change))
            continue
        dossier_id = change.state.dossier_id
        row = loaded.get(dossier_id)
        if row is not None and same_columns(change, row):
            state_ids.append(dossier_id)
            state_texts.append(state_text(change))
            state_versions.append(row[0])
        else:
            document = change_row(change)
            document["x"] = row[0] if row is not None else None
            updated.append(document)
            updated_states.append(state_text(change))
    dumps = orjson.dumps
    return (
        (dumps(created).decode(), created_states) if created else None,
        (dumps(updated).decode(), updated_states) if updated else None,
        (state_ids, state_texts, state_versions) if state_ids else None,
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
