"""Receivers managed through the admin API, in PostgreSQL (`alert_receivers`, migration 0008).

The secret is stored as a Fernet token (adapters/receiver_secrets.py) and never read back by the API. Every alerts
process polls the table (`ApiReceiversFollower`, RECEIVERS_POLL_INTERVAL_S): a row changed by the API of any
process is in force everywhere within one interval, without a restart. Deleting a receiver gives up its pending
messages (status dead, last_error 'receiver deleted') and drops the notifications still waiting for it, so a
receiver re-created later under the same name starts clean.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import TypeAdapter

from services.alerts.adapters.receiver_secrets import SecretBox, SecretKeyError
from services.alerts.domain.receivers import AlertmanagerReceiver, ApiReceiver, WebhookReceiver
from services.alerts.service.ports import ApiReceivers

log = logging.getLogger(__name__)

SELECT_RECEIVERS = """
SELECT name, kind, spec, secret_ciphertext, secret_rotated_at, created_at, updated_at
FROM alert_receivers ORDER BY name"""
SELECT_RECEIVER = """
SELECT name, kind, spec, secret_ciphertext, secret_rotated_at, created_at, updated_at
FROM alert_receivers WHERE name = $1"""
INSERT_RECEIVER = """
INSERT INTO alert_receivers (name, kind, spec, secret_ciphertext, secret_rotated_at, created_at, updated_at)
VALUES ($1, $2, $3::jsonb, $4, CASE WHEN $4::bytea IS NULL THEN NULL ELSE $5::timestamptz END, $5, $5)
ON CONFLICT (name) DO NOTHING
RETURNING name, kind, spec, secret_ciphertext, secret_rotated_at, created_at, updated_at"""
# $4 = new secret (NULL: keep), $6 = true: remove the secret.
UPDATE_RECEIVER = """
UPDATE alert_receivers SET spec = $2::jsonb,
    secret_ciphertext = CASE WHEN $6::boolean THEN NULL ELSE COALESCE($4, secret_ciphertext) END,
    secret_rotated_at = CASE WHEN $6::boolean THEN NULL
        WHEN $4::bytea IS NOT NULL THEN $5::timestamptz ELSE secret_rotated_at END,
    updated_at = $5::timestamptz
WHERE name = $1 AND kind = $3
RETURNING name, kind, spec, secret_ciphertext, secret_rotated_at, created_at, updated_at"""
DELETE_RECEIVER = """
DELETE FROM alert_receivers WHERE name = $1
RETURNING name, kind, spec, secret_ciphertext, secret_rotated_at, created_at, updated_at"""
GIVE_UP_PENDING = """
UPDATE alert_deliveries SET status = 'dead', last_error = 'receiver deleted', next_attempt_at = $2
WHERE receiver = $1 AND status = 'pending'"""
DROP_WAITING = "DELETE FROM alert_outbox WHERE receiver = $1 AND delivery_id IS NULL"
DROP_FLUSHES = "DELETE FROM alert_group_flushes WHERE receiver = $1"
COUNT_SECRETS = "SELECT count(*) FROM alert_receivers WHERE secret_ciphertext IS NOT NULL"

_RECEIVER = TypeAdapter(ApiReceiver)


def receiver_of(row: Any) -> WebhookReceiver | AlertmanagerReceiver:
    spec = row["spec"] if isinstance(row["spec"], dict) else json.loads(row["spec"])
    return _RECEIVER.validate_python({**spec, "name": row["name"], "type": row["kind"]})


def spec_json(receiver: WebhookReceiver | AlertmanagerReceiver) -> str:
    """What is stored of a receiver: everything but its name, kind and secret (`secret_env` is file-only)."""
    return json.dumps(receiver.model_dump(mode="json", exclude={"name", "type", "secret_env"}), ensure_ascii=False)


async def fetch_all(conn: asyncpg.Connection) -> list[Any]:
    return list(await conn.fetch(SELECT_RECEIVERS))


async def fetch_one(conn: asyncpg.Connection, name: str) -> Any:
    return await conn.fetchrow(SELECT_RECEIVER, name)


async def insert(
    conn: asyncpg.Connection, receiver: WebhookReceiver | AlertmanagerReceiver, secret: bytes | None, now: datetime
) -> Any:
    """The new row, or None when the name is taken."""
    return await conn.fetchrow(INSERT_RECEIVER, receiver.name, receiver.type, spec_json(receiver), secret, now)


async def update(
    conn: asyncpg.Connection,
    receiver: WebhookReceiver | AlertmanagerReceiver,
    secret: bytes | None,
    clear_secret: bool,
    now: datetime,
) -> Any:
    return await conn.fetchrow(
        UPDATE_RECEIVER, receiver.name, spec_json(receiver), receiver.type, secret, now, clear_secret
    )


async def delete(conn: asyncpg.Connection, name: str, now: datetime) -> Any:
    """The deleted row (None if there was none); its pending messages and waiting notifications go with it."""
    async with conn.transaction():
        row = await conn.fetchrow(DELETE_RECEIVER, name)
        if row is not None:
            await conn.execute(GIVE_UP_PENDING, name, now)
            await conn.execute(DROP_WAITING, name)
            await conn.execute(DROP_FLUSHES, name)
    return row


def decode_rows(rows: list[Any], box: SecretBox | None) -> ApiReceivers:
    """Models and plaintext secrets; raises SecretKeyError when a secret exists and cannot be decrypted."""
    receivers: list[WebhookReceiver | AlertmanagerReceiver] = []
    secrets: dict[str, str] = {}
    for row in rows:
        receivers.append(receiver_of(row))
        if row["secret_ciphertext"] is not None:
            if box is None:
                raise SecretKeyError(f"receiver {row['name']} has a stored secret but RECEIVERS_SECRET_KEY is not set")
            secrets[row["name"]] = box.decrypt(bytes(row["secret_ciphertext"]))
    return ApiReceivers(tuple(receivers), secrets)


class ApiReceiversFollower:
    """Loads the table when it changed (names and update times); the last good set stays on a bad read."""

    def __init__(self, box: SecretBox | None) -> None:
        self.box = box
        self._signature: tuple[tuple[str, datetime], ...] | None = None

    async def load(self, conn: asyncpg.Connection, *, force: bool = False) -> ApiReceivers | None:
        """The receivers when they changed since the last load (or `force`); None otherwise."""
        rows = await fetch_all(conn)
        signature = tuple((r["name"], r["updated_at"]) for r in rows)
        if signature == self._signature and not force:
            return None
        loaded = decode_rows(rows, self.box)  # raises before the signature moves: retried at the next poll
        self._signature = signature
        return loaded


class PgReceiverStore:
    """The table behind the admin routes, and the poll of it (`load`, an `ApiReceiversSource`)."""

    def __init__(self, pool: asyncpg.Pool, box: SecretBox | None) -> None:
        self.pool = pool
        self.box = box
        self._follower = ApiReceiversFollower(box)

    async def load(self, *, force: bool = False) -> ApiReceivers | None:
        async with self.pool.acquire() as conn:
            return await self._follower.load(conn, force=force)

    async def fetch_all(self) -> list[Any]:
        async with self.pool.acquire() as conn:
            return await fetch_all(conn)

    async def fetch_one(self, name: str) -> Any:
        async with self.pool.acquire() as conn:
            return await fetch_one(conn, name)

    async def insert(
        self, receiver: WebhookReceiver | AlertmanagerReceiver, secret: bytes | None, now: datetime
    ) -> Any:
        async with self.pool.acquire() as conn:
            return await insert(conn, receiver, secret, now)

    async def update(
        self,
        receiver: WebhookReceiver | AlertmanagerReceiver,
        secret: bytes | None,
        clear_secret: bool,
        now: datetime,
    ) -> Any:
        async with self.pool.acquire() as conn:
            return await update(conn, receiver, secret, clear_secret, now)

    async def delete(self, name: str, now: datetime) -> Any:
        async with self.pool.acquire() as conn:
            return await delete(conn, name, now)
