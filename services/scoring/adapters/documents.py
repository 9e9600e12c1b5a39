"""The write path's documents and parameters built from the domain's objects — pure, so it joins the compiled group.

`adapters/store.py` holds the SQL and the I/O; what it sends and what it reads back is made here: the states parsed
from the rows the select returns (`stored_from_rows`), the changed-dossiers JSON documents (`change_documents`,
keys as in store._CHANGED_ROWS) and the counter statement's arrays (`counter_columns`). This runs for every
changed dossier of every batch, so it is compiled with the domain (services/scoring/compiled.py); it imports no
driver (asyncpg stays in store.py), only orjson, whose encoding is what PostgreSQL receives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import orjson

from services.scoring.domain.apply import DossierChange, StoredDossier, StoredDossierLoader
from services.scoring.domain.counters import CounterKey
from services.scoring.domain.state import DossierState

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


def state_document(change: DossierChange) -> dict[str, Any] | orjson.Fragment:
    """The state as stored (``DossierState.to_dict`` in orjson's encoding). A change that appends records to a
    loaded row extends that row's text with the new rows only — the same bytes as encoding it all again, since
    orjson writes each list element on its own, without spaces."""
    stored, appended = change.stored_form, change.appended
    if stored is None or not appended or not stored.endswith(_EVENTS_END):
        return change.state.to_dict()
    rows = orjson.dumps([record.to_row() for record in change.state.records[-appended:]]).decode()
    return orjson.Fragment(f"{stored[:-2]},{rows[1:-1]}]}}")


def change_row(change: DossierChange) -> dict[str, Any]:
    """One row of the changed-dossiers document (keys as in store._CHANGED_ROWS)."""
    state = change.state
    receipt = state.receipt
    flips = state.hold_flips
    return {
        "i": state.dossier_id,
        "s": state_document(change),
        "h": receipt.unit_id if receipt is not None else None,
        "p": state.procedure_id,
        "r": receipt.received_at if receipt is not None else None,
        "d": state.effective_due,
        "e": state.ended_at,
        # On hold per the latest known events: an odd number of hold/release flips.
        "o": flips[-1] if len(flips) % 2 == 1 else None,
        "m": change.evaluated_month,
    }


def change_documents(changes: Sequence[DossierChange]) -> tuple[str | None, str | None]:
    """The JSON documents of store.INSERT_NEW_DOSSIERS and store.UPDATE_DOSSIERS (None when there is nothing for
    one), in one pass over the changes."""
    created: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []
    for change in changes:
        (created if change.created else updated).append(change_row(change))
    dumps = orjson.dumps
    return (dumps(created).decode() if created else None, dumps(updated).decode() if updated else None)


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
