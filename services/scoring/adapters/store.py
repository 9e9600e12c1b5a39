"""The scoring write path: load the dossiers a batch touches, write their new state and the counter deltas.

Everything for one batch runs in ONE transaction (the caller's); Kafka offsets are committed only after it commits.
Each statement handles many rows at once (a JSON document or arrays through `unnest`): one select for the batch,
one upsert per part of it (see applier._apply_in_parts), one counter statement — a handful of round-trips.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import asyncpg
import orjson

from services.scoring.domain.apply import (
    BatchOutcome,
    DossierChange,
    StoredDossier,
    contribution_from_rows,
    contribution_to_rows,
)
from services.scoring.domain.counters import CounterKey
from services.scoring.domain.state import DossierState

# Row locks are what keep two consumers (during a rebalance, a batch can be in flight in both) from merging the
# same dossier from the same old state. A dossier seen for the first time has no row to lock yet, so every id of
# the batch is first claimed with a placeholder row (in id order, so two claimers cannot deadlock): the second
# claimer waits for the first one's transaction, then finds its real row. Placeholders never outlive the
# transaction: the batch's upsert replaces them (evaluated_month '' marks them).
CLAIM_DOSSIERS = """
INSERT INTO dossiers (dossier_id, state, contribution, evaluated_month)
SELECT id, '{}'::jsonb, '[]'::jsonb, '' FROM unnest($1::text[]) AS id ORDER BY id
ON CONFLICT (dossier_id) DO NOTHING
"""

SELECT_DOSSIERS_FOR_UPDATE = """
SELECT dossier_id, state::text, contribution::text
FROM dossiers
WHERE dossier_id = ANY($1::text[]) AND evaluated_month <> ''
ORDER BY dossier_id
FOR UPDATE
"""

# The changed dossiers travel as ONE JSON document (built by orjson in one call) rather than ten parameter arrays:
# the consumer's Python is its bottleneck and encoding arrays element by element cost it ~10 % of a batch, while
# PostgreSQL, on the other core, parses the document in one pass. Times are integer microseconds since the epoch,
# converted exactly (whole seconds and the remainder apart, so no float rounding at any date).
UPSERT_DOSSIERS = """
INSERT INTO dossiers (dossier_id, state, contribution, home_unit, procedure_id, received_at, due_at, ended_at,
                      hold_since, evaluated_month, updated_at)
SELECT d.i, d.s, d.c, d.h, d.p,
       timestamptz 'epoch' + (d.r / 1000000) * interval '1 second' + (d.r % 1000000) * interval '1 microsecond',
       timestamptz 'epoch' + (d.d / 1000000) * interval '1 second' + (d.d % 1000000) * interval '1 microsecond',
       timestamptz 'epoch' + (d.e / 1000000) * interval '1 second' + (d.e % 1000000) * interval '1 microsecond',
       timestamptz 'epoch' + (d.o / 1000000) * interval '1 second' + (d.o % 1000000) * interval '1 microsecond',
       d.m, now()
FROM jsonb_to_recordset($1::jsonb)
     AS d (i text, s jsonb, c jsonb, h text, p text, r bigint, d bigint, e bigint, o bigint, m text)
ON CONFLICT (dossier_id) DO UPDATE SET
    state = EXCLUDED.state,
    contribution = EXCLUDED.contribution,
    home_unit = EXCLUDED.home_unit,
    procedure_id = EXCLUDED.procedure_id,
    received_at = EXCLUDED.received_at,
    due_at = EXCLUDED.due_at,
    ended_at = EXCLUDED.ended_at,
    hold_since = EXCLUDED.hold_since,
    evaluated_month = EXCLUDED.evaluated_month,
    updated_at = now()
"""

# Rows are sent sorted by key so that two scoring processes updating shared rows (the city's, above all) always
# lock them in the same order and cannot deadlock.
ADD_TO_COUNTERS = """
INSERT INTO unit_month_counters (unit_id, month, counter, value)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
ON CONFLICT (unit_id, month, counter) DO UPDATE SET value = unit_month_counters.value + EXCLUDED.value
"""

SELECT_OPEN_NOT_IN_MONTH = """
SELECT dossier_id, state::text, contribution::text
FROM dossiers
WHERE received_at IS NOT NULL AND ended_at IS NULL AND evaluated_month < $1
ORDER BY dossier_id
LIMIT $2
FOR UPDATE
"""

INSERT_DLQ = """
INSERT INTO dlq_records (topic, "partition", "offset", record_key, record_value, event_id, error, detail)
SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bytea[], $5::bytea[], $6::text[], $7::text[],
                     $8::text[])
ON CONFLICT (topic, "partition", "offset") DO NOTHING
"""


def stored_from_rows(rows: Iterable[Sequence[Any]]) -> dict[str, StoredDossier]:
    """Rows of (dossier_id, state, contribution) with the JSON columns as text.

    Selected as text and parsed here rather than by the pool's jsonb codec: the same orjson parse, but it runs
    inside the caller's batch (with the cyclic GC paused) instead of in the connection's data callback.
    """
    loads = orjson.loads
    return {
        dossier_id: StoredDossier(DossierState.from_dict(loads(state)), contribution_from_rows(loads(contribution)))
        for dossier_id, state, contribution in rows
    }


async def load_for_update(conn: asyncpg.Connection, dossier_ids: Sequence[str]) -> dict[str, StoredDossier]:
    """Lock every dossier of the batch (claiming new ids) and load those that already exist. Ids sorted."""
    ids = list(dossier_ids)
    await conn.execute(CLAIM_DOSSIERS, ids)
    return stored_from_rows(await conn.fetch(SELECT_DOSSIERS_FOR_UPDATE, ids))


async def load_open_to_roll(conn: asyncpg.Connection, month: str, limit: int) -> dict[str, StoredDossier]:
    return stored_from_rows(await conn.fetch(SELECT_OPEN_NOT_IN_MONTH, month, limit))


def change_rows(changes: Sequence[DossierChange]) -> list[dict[str, Any]]:
    """The rows of UPSERT_DOSSIERS's document (keys as in its column list)."""
    rows = []
    for change in changes:
        state = change.state
        receipt = state.receipt
        flips = state.hold_flips
        rows.append(
            {
                "i": state.dossier_id,
                "s": state.to_dict(),
                "c": contribution_to_rows(change.contribution),
                "h": receipt.unit_id if receipt is not None else None,
                "p": state.procedure_id,
                "r": receipt.received_at if receipt is not None else None,
                "d": state.effective_due,
                "e": state.ended_at,
                # On hold per the latest known events: an odd number of hold/release flips.
                "o": flips[-1] if len(flips) % 2 == 1 else None,
                "m": change.evaluated_month,
            }
        )
    return rows


async def write_changes(conn: asyncpg.Connection, changes: Sequence[DossierChange]) -> None:
    if not changes:
        return
    # The pool's jsonb codec serialises the rows with orjson (shared/db.py).
    await conn.execute(UPSERT_DOSSIERS, change_rows(changes))


def counter_columns(delta: Mapping[CounterKey, int]) -> tuple[list[str], list[str], list[str], list[int]]:
    """The parameter arrays of ADD_TO_COUNTERS, sorted by key (the lock order)."""
    keys = sorted(delta)
    return [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], [delta[k] for k in keys]


async def add_counter_delta(conn: asyncpg.Connection, outcome: BatchOutcome) -> None:
    if not outcome.counter_delta:
        return
    await conn.execute(ADD_TO_COUNTERS, *counter_columns(outcome.counter_delta))


async def insert_dead_letters(conn: asyncpg.Connection, rows: Sequence[tuple]) -> None:
    """rows: (topic, partition, offset, key, value, event_id, error, detail)."""
    if not rows:
        return
    columns = list(zip(*rows, strict=True))
    await conn.execute(INSERT_DLQ, *[list(column) for column in columns])
