"""The scoring write path: load the dossiers a batch touches, write their new state and the counter deltas.

Everything for one batch runs in ONE transaction (the caller's); Kafka offsets are committed only after it commits.
Each statement handles many rows at once (a JSON document and arrays through `unnest`): one select for the batch,
one upsert per part of it (see service/apply_batch._apply_in_parts), one counter statement — a handful of
round-trips. `PostgresWriteStore` is the use case's WriteStore (service/ports.py) over these statements.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import asyncpg

from services.scoring.adapters.documents import (  # the parameters, built in the compiled group
    change_documents,
    counter_columns,
    stored_from_rows,
)
from services.scoring.adapters.figures_notify import notify_months
from services.scoring.domain.apply import DossierChange, StoredDossier
from services.scoring.domain.counters import CounterKey
from services.scoring.service.ports import (
    DeadLetter,
    KafkaRecord,
    NewDossiersExistError,
    StoredDeadLetter,
    dead_letter_status,
)
from shared.contract import EventRejection

# Row locks are what keep two consumers (during a rebalance, a batch can be in flight in both) from merging the
# same dossier from the same old state. Existing rows are locked here, in id order (so two lockers cannot
# deadlock); a dossier seen for the first time has no row to lock, so it is inserted (INSERT_NEW_DOSSIERS, in id
# order: a second inserter of the same ids waits for the first) and, when another consumer created it meanwhile,
# merged into that row after all (service/apply_batch: the batch applied again in a transaction that skips such
# rows, INSERT_NEW_DOSSIERS_SKIPPING, then BatchApplication.reapply_existing). The row carries no contribution:
# StoredDossierLoader recomputes it from the state and evaluated_month.
SELECT_DOSSIERS_FOR_UPDATE = """
SELECT dossier_id, state, evaluated_month
FROM dossiers
WHERE dossier_id = ANY($1::text[])
ORDER BY dossier_id
FOR UPDATE
"""

# Changed dossiers travel as ONE JSON document of their small columns (built by orjson in one call) beside ONE text
# array of their states, zipped by position (ROWS FROM): the consumer's Python is its bottleneck and encoding every
# column as an array element by element cost it ~10 % of a batch, while a state inside the JSON document cost
# PostgreSQL's JSON lexer ≈ 10 µs of CPU per row (every token of the state's nested arrays; issue 14, helper "pg" in
# docs/benchmarks.md) — a text array element is copied as it is. Times are integer microseconds since the epoch,
# converted exactly (whole seconds and the remainder apart, so no float rounding at any date).
_CHANGED_ROWS = """
FROM ROWS FROM (
    json_to_recordset($1::json) AS (i text, h text, p text, r bigint, d bigint, e bigint, o bigint, m text),
    unnest($2::text[])
) AS d (i, h, p, r, d, e, o, m, s)
"""
_MICROS = "timestamptz 'epoch' + (d.{0} / 1000000) * interval '1 second' + (d.{0} % 1000000) * interval '1 microsecond'"

# The one unique constraint a new dossier can meet (migrations/0002): another consumer created it meanwhile.
DOSSIERS_PRIMARY_KEY = "dossiers_pkey"

# A plain insert: ON CONFLICT DO NOTHING cost every row a second descent of the primary key (the arbiter check
# before the insert) and a confirmation record in the WAL (a speculative insertion) — ≈ 17 against ≈ 12 µs of
# backend CPU per inserted row (issue 14, helper "pg" of session 10 in docs/benchmarks.md). A row another consumer
# created meanwhile (only while two consumers hold the same records, during a rebalance) makes it fail with a
# unique violation; the batch is then applied again with the skipping form.
#
# The rows are inserted in the document's order, which is id order (service/apply_batch sorts a batch's ids once and
# writes its parts in that order; documents.change_documents keeps it): two consumers inserting the same new ids
# wait for each other in one direction only. An ORDER BY here sorted them again (≈ 1.3-2.7 µs a row).
INSERT_NEW_DOSSIERS = f"""
INSERT INTO dossiers (dossier_id, state, home_unit, procedure_id, received_at, due_at, ended_at, hold_since,
                      evaluated_month, updated_at)
SELECT d.i, d.s, d.h, d.p, {_MICROS.format("r")}, {_MICROS.format("d")}, {_MICROS.format("e")},
       {_MICROS.format("o")}, d.m, now()
{_CHANGED_ROWS}
"""
INSERT_NEW_DOSSIERS_SKIPPING = f"""{INSERT_NEW_DOSSIERS}ON CONFLICT (dossier_id) DO NOTHING
RETURNING dossier_id
"""

UPDATE_DOSSIERS = f"""
UPDATE dossiers AS t SET
    state = d.s,
    home_unit = d.h,
    procedure_id = d.p,
    received_at = {_MICROS.format("r")},
    due_at = {_MICROS.format("d")},
    ended_at = {_MICROS.format("e")},
    hold_since = {_MICROS.format("o")},
    evaluated_month = d.m,
    updated_at = now()
{_CHANGED_ROWS}
WHERE t.dossier_id = d.i
"""

# Rows are sent sorted by key so that two scoring processes updating shared rows (the city's, above all) always
# lock them in the same order and cannot deadlock.
ADD_TO_COUNTERS = """
INSERT INTO unit_month_counters (unit_id, month, counter, value)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
ON CONFLICT (unit_id, month, counter) DO UPDATE SET value = unit_month_counters.value + EXCLUDED.value
"""

SELECT_OPEN_NOT_IN_MONTH = """
SELECT dossier_id, state, evaluated_month
FROM dossiers
WHERE received_at IS NOT NULL AND ended_at IS NULL AND evaluated_month < $1
ORDER BY dossier_id
LIMIT $2
FOR UPDATE
"""

INSERT_DLQ = """
INSERT INTO dlq_records (topic, "partition", "offset", record_key, record_value, event_id, error, detail, status,
                         unit_id, record_timestamp)
SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bytea[], $5::bytea[], $6::text[], $7::text[],
                     $8::text[], $9::text[], $10::text[], $11::bigint[])
ON CONFLICT (topic, "partition", "offset") DO NOTHING
"""

# Dead letters to apply again, locked for this transaction; SKIP LOCKED so that two scoring processes (or an
# operator's re-drive and the service's) never take the same row: each is applied exactly once.
_DEAD_LETTER_COLUMNS = """
SELECT d.id, d.topic, d."partition", d."offset",
       COALESCE(d.record_timestamp, (extract(epoch FROM d.dead_at) * 1000)::bigint), d.record_key, d.record_value
FROM dlq_records d
"""
LOCK_PENDING_WITH_UNIT = f"""
{_DEAD_LETTER_COLUMNS}
WHERE d.status = 'pending' AND EXISTS (SELECT 1 FROM units u WHERE u.unit_id = d.unit_id)
ORDER BY d.id
LIMIT $1
FOR UPDATE OF d SKIP LOCKED
"""
LOCK_DEAD_LETTERS_BY_ID = f"""
{_DEAD_LETTER_COLUMNS}
WHERE d.id = ANY($1::bigint[]) AND d.status IN ('pending', 'dead')
ORDER BY d.id
FOR UPDATE OF d SKIP LOCKED
"""
MARK_APPLIED = """
UPDATE dlq_records SET status = 'applied', resolved_at = now(), attempts = attempts + 1 WHERE id = ANY($1::bigint[])
"""
MARK_FAILED = """
UPDATE dlq_records AS t SET error = f.error, detail = f.detail, status = f.status, attempts = t.attempts + 1
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS f (id, error, detail, status)
WHERE t.id = f.id
"""


async def write_changes(
    conn: asyncpg.Connection, changes: Sequence[DossierChange], *, new_may_exist: bool = False
) -> set[str]:
    """Insert the new dossiers and update the existing ones. With `new_may_exist`, returns the ids of new dossiers
    that another transaction created meanwhile (not written: the caller merges into those rows, see module
    comment); without, such a dossier raises NewDossiersExistError (the transaction is spoilt)."""
    created, updated = change_documents(changes)
    conflicts: set[str] = set()
    if created is not None and new_may_exist:
        inserted = {row[0] for row in await conn.fetch(INSERT_NEW_DOSSIERS_SKIPPING, *created)}
        conflicts = {change.state.dossier_id for change in changes if change.created} - inserted
    elif created is not None:
        try:
            await conn.execute(INSERT_NEW_DOSSIERS, *created)
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name != DOSSIERS_PRIMARY_KEY:
                raise  # another unique index: not the rebalance overlap the retry is for, so it must fail loudly
            raise NewDossiersExistError(str(error)) from error
    if updated is not None:
        await conn.execute(UPDATE_DOSSIERS, *updated)
    return conflicts


async def add_counter_delta(conn: asyncpg.Connection, delta: Mapping[CounterKey, int]) -> None:
    if delta:
        await conn.execute(ADD_TO_COUNTERS, *counter_columns(delta))


def dead_letter_row(letter: DeadLetter) -> tuple[Any, ...]:
    """The INSERT_DLQ columns of one dead letter."""
    record, rejection = letter.record, letter.rejection
    return (record.topic, record.partition, record.offset, record.key, record.value, rejection.event_id,
            str(rejection.error), rejection.detail, letter.status, letter.unit_id, record.timestamp)  # fmt: skip


def columns_of(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows → one list per column (the `unnest` parameters)."""
    return [list(column) for column in zip(*rows, strict=True)]


class PostgresWriteTransaction:
    """service.ports.WriteTransaction on one connection, inside the transaction PostgresWriteStore opened."""

    def __init__(self, conn: asyncpg.Connection, *, new_may_exist: bool = False) -> None:
        self._conn = conn
        self._new_may_exist = new_may_exist

    async def load_for_update(self, dossier_ids: Sequence[str]) -> dict[str, StoredDossier]:
        """Lock and load the dossiers of the batch that exist. Ids sorted."""
        return stored_from_rows(await self._conn.fetch(SELECT_DOSSIERS_FOR_UPDATE, list(dossier_ids)))

    async def load_open_to_roll(self, month: str, limit: int) -> dict[str, StoredDossier]:
        return stored_from_rows(await self._conn.fetch(SELECT_OPEN_NOT_IN_MONTH, month, limit))

    async def write_changes(self, changes: Sequence[DossierChange]) -> set[str]:
        return await write_changes(self._conn, changes, new_may_exist=self._new_may_exist)

    async def add_counter_delta(self, delta: Mapping[CounterKey, int]) -> None:
        await add_counter_delta(self._conn, delta)

    async def months_changed(self, months: set[str]) -> None:
        await notify_months(self._conn, months)

    async def insert_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        if letters:
            await self._conn.execute(INSERT_DLQ, *columns_of([dead_letter_row(letter) for letter in letters]))

    async def lock_dead_letters(
        self, *, pending_only: bool, ids: Sequence[int] | None, limit: int
    ) -> list[StoredDeadLetter]:
        if pending_only:
            rows = await self._conn.fetch(LOCK_PENDING_WITH_UNIT, limit)
        else:
            rows = await self._conn.fetch(LOCK_DEAD_LETTERS_BY_ID, list(ids or ())[:limit])
        return [StoredDeadLetter(row[0], KafkaRecord(*row[1:])) for row in rows]

    async def mark_applied(self, dead_letter_ids: Sequence[int]) -> None:
        if dead_letter_ids:
            await self._conn.execute(MARK_APPLIED, list(dead_letter_ids))

    async def mark_failed(self, failed: Sequence[tuple[int, EventRejection]]) -> None:
        """Dead letters tried again and still rejected: the reason of this attempt."""
        rows = [(i, str(r.error), r.detail, dead_letter_status(r)) for i, r in failed]
        if rows:
            await self._conn.execute(MARK_FAILED, *columns_of(rows))


class PostgresWriteStore:
    """service.ports.WriteStore: each transaction on a connection of the pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @contextlib.asynccontextmanager
    async def transaction(self, *, new_may_exist: bool = False) -> AsyncIterator[PostgresWriteTransaction]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield PostgresWriteTransaction(conn, new_may_exist=new_may_exist)
