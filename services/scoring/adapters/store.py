"""The scoring write path: load the dossiers a batch touches, write their new state and the counter deltas.

Everything for one batch runs in ONE transaction (the caller's); Kafka offsets are committed only after it commits.
Each statement handles the whole batch (arrays through `unnest`), so a batch costs a handful of round-trips.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import asyncpg
import orjson

from services.scoring.domain.apply import (
    BatchOutcome,
    DossierChange,
    StoredDossier,
    contribution_from_rows,
    contribution_to_rows,
)
from services.scoring.domain.state import DossierState
from services.scoring.domain.timebase import to_datetime

SELECT_DOSSIERS_FOR_UPDATE = """
SELECT dossier_id, state, contribution
FROM dossiers
WHERE dossier_id = ANY($1::text[])
ORDER BY dossier_id
FOR UPDATE
"""

UPSERT_DOSSIERS = """
INSERT INTO dossiers (dossier_id, state, contribution, home_unit, procedure_id, received_at, due_at, ended_at,
                      hold_since, evaluated_month, updated_at)
SELECT d.id, d.state::jsonb, d.contribution::jsonb, d.home, d.proc, d.rec, d.due, d.ended, d.hold, d.month, now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[],
            $8::timestamptz[], $9::timestamptz[], $10::text[])
     AS d (id, state, contribution, home, proc, rec, due, ended, hold, month)
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
SELECT dossier_id, state, contribution
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


def _stored(rows: Iterable[asyncpg.Record]) -> dict[str, StoredDossier]:
    return {
        row["dossier_id"]: StoredDossier(
            DossierState.from_dict(row["state"]), contribution_from_rows(row["contribution"])
        )
        for row in rows
    }


async def load_for_update(conn: asyncpg.Connection, dossier_ids: Sequence[str]) -> dict[str, StoredDossier]:
    return _stored(await conn.fetch(SELECT_DOSSIERS_FOR_UPDATE, list(dossier_ids)))


async def load_open_to_roll(conn: asyncpg.Connection, month: str, limit: int) -> dict[str, StoredDossier]:
    return _stored(await conn.fetch(SELECT_OPEN_NOT_IN_MONTH, month, limit))


def _time(instant: int | None) -> datetime | None:
    return to_datetime(instant) if instant is not None else None


async def write_changes(conn: asyncpg.Connection, changes: Sequence[DossierChange]) -> None:
    if not changes:
        return
    ids, states, contributions, homes, procedures = [], [], [], [], []
    received, dues, ended, holds, months = [], [], [], [], []
    for change in changes:
        state = change.state
        ids.append(state.dossier_id)
        # JSON text, cast to jsonb in SQL: asyncpg would take nested lists for array dimensions.
        states.append(orjson.dumps(state.to_dict()).decode())
        contributions.append(orjson.dumps(contribution_to_rows(change.contribution)).decode())
        homes.append(state.home_unit)
        procedures.append(state.procedure_id)
        received.append(_time(state.receipt.received_at) if state.receipt else None)
        dues.append(_time(state.effective_due))
        ended.append(_time(state.ended_at))
        # On hold per the latest known events: an odd number of hold/release flips.
        holds.append(_time(state.hold_flips[-1]) if len(state.hold_flips) % 2 == 1 else None)
        months.append(change.evaluated_month)
    await conn.execute(
        UPSERT_DOSSIERS, ids, states, contributions, homes, procedures, received, dues, ended, holds, months
    )


async def add_counter_delta(conn: asyncpg.Connection, outcome: BatchOutcome) -> None:
    if not outcome.counter_delta:
        return
    keys = sorted(outcome.counter_delta)
    await conn.execute(
        ADD_TO_COUNTERS,
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
        [outcome.counter_delta[k] for k in keys],
    )


async def insert_dead_letters(conn: asyncpg.Connection, rows: Sequence[tuple]) -> None:
    """rows: (topic, partition, offset, key, value, event_id, error, detail)."""
    if not rows:
        return
    columns = list(zip(*rows, strict=True))
    await conn.execute(INSERT_DLQ, *[list(column) for column in columns])
