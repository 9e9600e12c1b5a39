"""The durable outbox in PostgreSQL: waiting notifications (`alert_outbox`), group messages (`alert_deliveries`),
the last flush of every group (`alert_group_flushes`). The use case is service/outbox.py."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import asyncpg

from services.alerts.domain.notifications import Notification
from services.alerts.domain.retention import Purged
from services.alerts.service.ports import Attempt, NewMessage, PendingMessage, Waiting

# Planning takes its own advisory lock: two processes must not group the same waiting rows.
PLANNING_LOCK = 0x7474_6863_2D6F_62

TAKE_PLANNING_LOCK = "SELECT pg_advisory_xact_lock($1)"
WAITING = """SELECT n.body, n.subtree FROM alert_outbox o JOIN alert_notifications n USING (notification_id)
    WHERE o.receiver = $1 AND o.delivery_id IS NULL"""
FLUSHED = "SELECT group_key, flushed_at FROM alert_group_flushes WHERE receiver = $1"
RECORD_FLUSH = """INSERT INTO alert_group_flushes (receiver, group_key, flushed_at) VALUES ($1, $2, $3)
    ON CONFLICT (receiver, group_key) DO UPDATE SET flushed_at = EXCLUDED.flushed_at"""
INSERT_MESSAGE = """INSERT INTO alert_deliveries (receiver, delivery_id, group_key, channel, payload, recipients,
        notification_ids, created_at, next_attempt_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT DO NOTHING"""
QUEUED = "SELECT delivery_id FROM alert_deliveries WHERE delivery_id = ANY($1::text[])"
MARK_CONSUMED = """UPDATE alert_outbox SET delivery_id = $3
    WHERE receiver = $1 AND notification_id = ANY($2::text[]) AND delivery_id IS NULL"""
PENDING_HEADS = """SELECT DISTINCT ON (receiver, group_key) receiver, delivery_id, group_key, channel, payload,
        recipients, notification_ids, attempts, first_attempt_at, next_attempt_at
    FROM alert_deliveries WHERE status = 'pending'
    ORDER BY receiver, group_key, seq"""
# A dead message keeps in next_attempt_at the time it was given up: its retention clock.
RECORD_ATTEMPT = """UPDATE alert_deliveries SET status = $3, attempts = $4, first_attempt_at = $5,
        next_attempt_at = CASE WHEN $3 = 'dead' THEN $8 ELSE COALESCE($6, next_attempt_at) END,
        last_error = $7,
        delivered_at = CASE WHEN $3 = 'delivered' THEN $8 ELSE delivered_at END
    WHERE receiver = $1 AND delivery_id = $2"""
# One chunk of the retention pass, one statement (hence one short transaction). Only finished messages go; a dead
# message's next_attempt_at is when it was given up (RECORD_ATTEMPT). The outbox rows are found through the
# message's own notification_ids (the primary key), and only those that point at this message. SKIP LOCKED: two
# processes purging at once take different rows instead of queueing behind each other.
PURGE_FINISHED_CHUNK = """
WITH doomed AS (
    SELECT receiver, delivery_id, notification_ids FROM alert_deliveries
    WHERE status IN ('delivered', 'dead') AND COALESCE(delivered_at, next_attempt_at) < $1
    ORDER BY seq LIMIT $2
    FOR UPDATE SKIP LOCKED
), outbox AS (
    DELETE FROM alert_outbox o USING doomed d, unnest(d.notification_ids) AS n (notification_id)
    WHERE o.notification_id = n.notification_id AND o.receiver = d.receiver AND o.delivery_id = d.delivery_id
    RETURNING 1
), messages AS (
    DELETE FROM alert_deliveries a USING doomed d
    WHERE a.receiver = d.receiver AND a.delivery_id = d.delivery_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM messages) AS messages, (SELECT count(*) FROM outbox) AS outbox_rows"""


class PgPlanningSession:
    def __init__(self, conn: asyncpg.Connection, receiver: str) -> None:
        self.conn = conn
        self.receiver = receiver

    async def waiting(self) -> list[Waiting]:
        rows = await self.conn.fetch(WAITING, self.receiver)
        return [Waiting(Notification.model_validate(row["body"]), list(row["subtree"])) for row in rows]

    async def flushed(self) -> dict[str, datetime]:
        return {r["group_key"]: r["flushed_at"] for r in await self.conn.fetch(FLUSHED, self.receiver)}

    async def store_message(self, message: NewMessage) -> None:
        m = message
        await self.conn.execute(
            INSERT_MESSAGE, m.receiver, m.delivery_id, m.group_key, m.channel, m.payload, m.recipients,
            m.notification_ids, m.created_at,
        )  # fmt: skip
        await self.conn.execute(MARK_CONSUMED, m.receiver, m.notification_ids, m.delivery_id)

    async def record_flush(self, group_key: str, flushed_at: datetime) -> None:
        await self.conn.execute(RECORD_FLUSH, self.receiver, group_key, flushed_at)


def pending_of(row: asyncpg.Record) -> PendingMessage:
    """PENDING_HEADS selects exactly the message's fields, under their names."""
    arrays = {"recipients": list(row["recipients"]), "notification_ids": list(row["notification_ids"])}
    return PendingMessage(**{**dict(row.items()), "payload": bytes(row["payload"]), **arrays})


class PgOutboxStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @contextlib.asynccontextmanager
    async def planning(self, receiver: str) -> AsyncIterator[PgPlanningSession]:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(TAKE_PLANNING_LOCK, PLANNING_LOCK)
            yield PgPlanningSession(conn, receiver)

    async def queued(self, delivery_ids: Sequence[str]) -> set[str]:
        async with self.pool.acquire() as conn:
            return {r["delivery_id"] for r in await conn.fetch(QUEUED, list(delivery_ids))}

    async def queue(self, message: NewMessage) -> bool:
        """A message with no notifications (the morning digest); ON CONFLICT DO NOTHING makes it once only."""
        m = message
        async with self.pool.acquire() as conn:
            status = await conn.execute(
                INSERT_MESSAGE, m.receiver, m.delivery_id, m.group_key, m.channel, m.payload, m.recipients,
                m.notification_ids, m.created_at,
            )  # fmt: skip
        return status == "INSERT 0 1"

    async def pending_heads(self) -> list[PendingMessage]:
        async with self.pool.acquire() as conn:
            return [pending_of(r) for r in await conn.fetch(PENDING_HEADS)]

    async def record_attempt(self, message: PendingMessage, attempt: Attempt) -> None:
        a = attempt
        async with self.pool.acquire() as conn:
            await conn.execute(
                RECORD_ATTEMPT, message.receiver, message.delivery_id, a.status, a.attempts, a.first_attempt_at,
                a.next_attempt_at, a.last_error, a.at,
            )  # fmt: skip

    async def purge_finished_chunk(self, cutoff: datetime, limit: int) -> Purged:
        """Delete up to `limit` messages finished before `cutoff`, with their outbox rows."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(PURGE_FINISHED_CHUNK, cutoff, limit)
        assert row is not None
        return Purged(messages=row["messages"], outbox_rows=row["outbox_rows"])
