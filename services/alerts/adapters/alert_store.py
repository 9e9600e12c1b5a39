"""Alert state in PostgreSQL: states, transitions, notifications and their outbox rows, silences, live figures.

`PgAlertStore.session()` is one transaction that first takes a transaction-scoped advisory lock shared by every
writer of alert state: evaluations never interleave (even across processes), and history sequence numbers are
committed in order, which the event stream relies on. Activating a rule set takes the same lock
(service/activation.py), so once another process has activated a set no evaluation anywhere uses the one it
replaced.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import asyncpg

from services.alerts.adapters.rule_store import PgRuleSets
from services.alerts.domain.notifications import Notification
from services.alerts.domain.silences import Silence
from services.alerts.domain.state import AlertState, Transition
from services.alerts.service.ports import UnitLive
from shared.indicators import UnitIndicators

# pg_advisory_xact_lock key shared by every writer of alert state ("tthc-al" in ASCII).
EVALUATION_LOCK = 0x7474_6863_2D61_6C

TAKE_EVALUATION_LOCK = "SELECT pg_advisory_xact_lock($1)"
ACTIVE_SILENCES = """SELECT silence_id, matchers, starts_at, ends_at, comment, author FROM alert_silences
    WHERE expired_at IS NULL AND starts_at <= $1 AND ends_at > $1"""
STATES_OF_UNITS = "SELECT unit_id, rule_id, data FROM alert_states WHERE unit_id = ANY($1::text[])"
LIVE_STATES = "SELECT data FROM alert_states WHERE state IN ('pending', 'firing')"
# Uses the partial index on live states; the enabled rules in force are excluded here and checked again by the
# domain (a disabled rule's alerts close like a removed one's).
LIVE_STATES_OF_OTHER_RULES = """SELECT alert_id, data FROM alert_states
    WHERE state IN ('pending', 'firing') AND NOT (rule_id = ANY($1::text[]))"""
# Only for the fallback when no definition of a removed rule is left: the labels receivers know the alert by.
LAST_NOTIFICATION = """SELECT body FROM alert_notifications WHERE alert_id = $1
    ORDER BY created_at DESC, (body->>'sequence')::int DESC LIMIT 1"""
STATE_BY_ID = "SELECT data FROM alert_states WHERE alert_id = $1"
SAVE_STATE = """INSERT INTO alert_states (rule_id, unit_id, state, data, updated_at) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (rule_id, unit_id)
    DO UPDATE SET state = EXCLUDED.state, data = EXCLUDED.data, updated_at = EXCLUDED.updated_at
    RETURNING alert_id"""
INSERT_TRANSITION = """INSERT INTO alert_transitions
        (alert_id, rule_id, unit_id, from_state, to_state, at, value, reason, silenced_by, actor, comment)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"""
INSERT_NOTIFICATION = """INSERT INTO alert_notifications (notification_id, alert_id, kind, subtree, body, created_at)
    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING notification_id"""
ENQUEUE = """INSERT INTO alert_outbox (notification_id, receiver, enqueued_at) VALUES ($1, $2, $3)
    ON CONFLICT DO NOTHING"""
REMEMBER_LIVE = """INSERT INTO alert_unit_live (unit_id, name, level, ancestors, open, due_soon, overdue_open, as_of)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (unit_id) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level,
        ancestors = EXCLUDED.ancestors, open = EXCLUDED.open, due_soon = EXCLUDED.due_soon,
        overdue_open = EXCLUDED.overdue_open, as_of = EXCLUDED.as_of
    WHERE alert_unit_live.as_of <= EXCLUDED.as_of"""
UNITS_LIVE = "SELECT unit_id, name, level, ancestors, open, due_soon FROM alert_unit_live"
UNITS_WITH_LIVE_ALERTS = (
    "SELECT unit_id FROM alert_states WHERE state IN ('pending', 'firing') AND rule_id = ANY($1::text[])"
)


def silence_of(row: asyncpg.Record) -> Silence:
    return Silence(
        id=row["silence_id"],
        matchers=row["matchers"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        comment=row["comment"],
        author=row["author"],
    )


async def active_silences(conn: asyncpg.Connection, now: datetime) -> list[Silence]:
    return [silence_of(r) for r in await conn.fetch(ACTIVE_SILENCES, now)]


class PgAlertSession(PgRuleSets):
    """`AlertSession` on one connection, inside the transaction `PgAlertStore.session` opened."""

    async def active_silences(self, now: datetime) -> list[Silence]:
        return await active_silences(self.conn, now)

    async def states_of_units(self, unit_ids: Sequence[str]) -> dict[str, dict[str, AlertState]]:
        by_unit: dict[str, dict[str, AlertState]] = {}
        for row in await self.conn.fetch(STATES_OF_UNITS, unit_ids):
            by_unit.setdefault(row["unit_id"], {})[row["rule_id"]] = AlertState.from_dict(row["data"])
        return by_unit

    async def live_states(self) -> list[AlertState]:
        return [AlertState.from_dict(row["data"]) for row in await self.conn.fetch(LIVE_STATES)]

    async def live_states_of_other_rules(self, rule_ids: Sequence[str]) -> dict[int, AlertState]:
        rows = await self.conn.fetch(LIVE_STATES_OF_OTHER_RULES, list(rule_ids))
        return {row["alert_id"]: AlertState.from_dict(row["data"]) for row in rows}

    async def last_notification(self, alert_id: int) -> Notification | None:
        body = await self.conn.fetchval(LAST_NOTIFICATION, alert_id)
        return None if body is None else Notification.model_validate(body)

    async def alert_state(self, alert_id: int) -> AlertState | None:
        data = await self.conn.fetchval(STATE_BY_ID, alert_id)
        return None if data is None else AlertState.from_dict(data)

    async def remember_live(self, message: UnitIndicators) -> None:
        live = message.live
        await self.conn.execute(
            REMEMBER_LIVE, message.unit_id, message.name, message.level, message.ancestors, live.open,
            live.due_soon, live.overdue_open, live.as_of,
        )  # fmt: skip

    async def save_state(self, state: AlertState, now: datetime) -> int:
        return await self.conn.fetchval(SAVE_STATE, state.rule_id, state.unit_id, state.state, state.to_dict(), now)

    async def insert_transition(self, alert_id: int, transition: Transition, comment: str | None = None) -> None:
        t = transition
        await self.conn.execute(
            INSERT_TRANSITION, alert_id, t.rule_id, t.unit_id, t.from_state, t.to_state, t.at, t.value, t.reason,
            t.silenced_by, t.actor, comment if comment is not None else t.comment,
        )  # fmt: skip

    async def insert_notification(
        self, alert_id: int, notification: Notification, subtree: list[str], now: datetime
    ) -> bool:
        inserted = await self.conn.fetchval(
            INSERT_NOTIFICATION, notification.id, alert_id, notification.kind, subtree,
            notification.model_dump(mode="json"), now,
        )  # fmt: skip
        return inserted is not None

    async def enqueue(self, notification_id: str, receivers: Sequence[str], now: datetime) -> None:
        await self.conn.executemany(ENQUEUE, [(notification_id, receiver, now) for receiver in receivers])


class PgNearDueReader(PgRuleSets):
    """What the near-due pass reads before asking scoring (no lock: the evaluation checks again under it)."""

    async def units_live(self) -> list[UnitLive]:
        return [
            UnitLive(r["unit_id"], r["name"], r["level"], list(r["ancestors"]), r["open"], r["due_soon"])
            for r in await self.conn.fetch(UNITS_LIVE)
        ]

    async def units_with_live_alerts(self, rule_ids: Sequence[str]) -> set[str]:
        return {r["unit_id"] for r in await self.conn.fetch(UNITS_WITH_LIVE_ALERTS, list(rule_ids))}


class PgAlertStore:
    """`AlertStore` and `NearDueStore` on the service's pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[PgAlertSession]:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(TAKE_EVALUATION_LOCK, EVALUATION_LOCK)
            yield PgAlertSession(conn)

    @contextlib.asynccontextmanager
    async def reader(self) -> AsyncIterator[PgNearDueReader]:
        async with self.pool.acquire() as conn:
            yield PgNearDueReader(conn)
