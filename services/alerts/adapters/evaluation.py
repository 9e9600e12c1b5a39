"""Running the domain's evaluation inside PostgreSQL transactions.

Each step (a batch of messages, a timer tick, a near-due pass, an acknowledgement) is ONE transaction that
writes the new states, their transitions, the notifications and their outbox rows. The Kafka offsets are
committed only after it, so a crash replays the batch; the replayed messages are not newer than what the states
already used, and notification ids are stable, so nothing is lost and nothing is doubled.

All writers take one transaction-scoped advisory lock first: evaluations never interleave (even across
processes), and history sequence numbers are committed in order, which the event stream relies on. Under that
lock each evaluation first follows the newest rule set (`RuleBook.refresh`): activating a set takes the same
lock, so once another process has activated a set no evaluation anywhere uses the one it replaced (which could
otherwise reopen alerts of a rule just removed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.alerts.adapters.receivers import Receivers, routes_for
from services.alerts.adapters.rule_store import RuleBook
from services.alerts.domain import engine
from services.alerts.domain.lifecycle import EvaluationResult, acknowledge
from services.alerts.domain.silences import Silence
from services.alerts.domain.state import AlertState, Transition
from shared.indicators import UnitIndicators, UnitNearDue

Clock = Callable[[], datetime]

# pg_advisory_xact_lock key shared by every writer of alert state ("tthc-al" in ASCII).
EVALUATION_LOCK = 0x7474_6863_2D61_6C


async def lock_evaluation(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", EVALUATION_LOCK)


async def active_silences(conn: asyncpg.Connection, now: datetime) -> list[Silence]:
    rows = await conn.fetch(
        """SELECT silence_id, matchers, starts_at, ends_at, comment, author FROM alert_silences
           WHERE expired_at IS NULL AND starts_at <= $1 AND ends_at > $1""",
        now,
    )
    return [
        Silence(
            id=r["silence_id"],
            matchers=r["matchers"],
            starts_at=r["starts_at"],
            ends_at=r["ends_at"],
            comment=r["comment"],
            author=r["author"],
        )
        for r in rows
    ]


async def _states_of_units(conn: asyncpg.Connection, unit_ids: Sequence[str]) -> dict[str, dict[str, AlertState]]:
    rows = await conn.fetch("SELECT unit_id, rule_id, data FROM alert_states WHERE unit_id = ANY($1::text[])", unit_ids)
    by_unit: dict[str, dict[str, AlertState]] = {}
    for row in rows:
        by_unit.setdefault(row["unit_id"], {})[row["rule_id"]] = AlertState.from_dict(row["data"])
    return by_unit


async def _insert_transition(
    conn: asyncpg.Connection, alert_id: int, t: Transition, comment: str | None = None
) -> None:
    await conn.execute(
        """INSERT INTO alert_transitions
               (alert_id, rule_id, unit_id, from_state, to_state, at, value, reason, silenced_by, actor, comment)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
        alert_id, t.rule_id, t.unit_id, t.from_state, t.to_state, t.at, t.value, t.reason, t.silenced_by,
        t.actor, comment if comment is not None else t.comment,
    )  # fmt: skip


async def _save_state(conn: asyncpg.Connection, state: AlertState, now: datetime) -> int:
    return await conn.fetchval(
        """INSERT INTO alert_states (rule_id, unit_id, state, data, updated_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (rule_id, unit_id)
           DO UPDATE SET state = EXCLUDED.state, data = EXCLUDED.data, updated_at = EXCLUDED.updated_at
           RETURNING alert_id""",
        state.rule_id, state.unit_id, state.state, state.to_dict(), now,
    )  # fmt: skip


async def persist_results(
    conn: asyncpg.Connection, results: Iterable[EvaluationResult], receivers: Receivers, now: datetime
) -> tuple[int, int]:
    """Write states, transitions, notifications and outbox rows; returns (transitions, notifications) written."""
    transitions = notifications = 0
    for result in results:
        alert_id = await _save_state(conn, result.state, now)
        for transition in result.transitions:
            await _insert_transition(conn, alert_id, transition)
            transitions += 1
        subtree = [result.state.unit_id, *result.state.ancestors]
        for notification in result.notifications:
            inserted = await conn.fetchval(
                """INSERT INTO alert_notifications (notification_id, alert_id, kind, subtree, body, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING notification_id""",
                notification.id, alert_id, notification.kind, subtree, notification.model_dump(mode="json"), now,
            )  # fmt: skip
            if inserted is None:
                continue  # the same step already ran and committed: its outbox rows exist
            notifications += 1
            routes = routes_for(receivers, notification, subtree)
            await conn.executemany(
                """INSERT INTO alert_outbox (notification_id, receiver, enqueued_at) VALUES ($1, $2, $3)
                   ON CONFLICT DO NOTHING""",
                [(notification.id, receiver, now) for receiver in routes],
            )
    return transitions, notifications


async def _remember_live(conn: asyncpg.Connection, message: UnitIndicators) -> None:
    live = message.live
    await conn.execute(
        """INSERT INTO alert_unit_live (unit_id, name, level, ancestors, open, due_soon, overdue_open, as_of)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (unit_id) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level,
               ancestors = EXCLUDED.ancestors, open = EXCLUDED.open, due_soon = EXCLUDED.due_soon,
               overdue_open = EXCLUDED.overdue_open, as_of = EXCLUDED.as_of
           WHERE alert_unit_live.as_of <= EXCLUDED.as_of""",
        message.unit_id, message.name, message.level, message.ancestors, live.open, live.due_soon,
        live.overdue_open, live.as_of,
    )  # fmt: skip


class Evaluator:
    def __init__(
        self,
        pool: asyncpg.Pool,
        rule_book: RuleBook,
        receivers: Receivers,
        clock: Clock,
        on_commit: Callable[[int, int], None] = lambda transitions, notifications: None,
    ) -> None:
        self.pool = pool
        self.rule_book = rule_book
        self.receivers = receivers
        self.clock = clock
        self.on_commit = on_commit

    async def _evaluate_units(
        self,
        items: Sequence[UnitIndicators] | Sequence[UnitNearDue],
        step: Callable[..., list[EvaluationResult]],
        after_each: Callable[[asyncpg.Connection, Any], Awaitable[None]] | None = None,
    ) -> tuple[int, int]:
        """Evaluate per-unit inputs in order, in one transaction: states, history and outbox rows together."""
        if not items:
            return 0, 0
        async with self.pool.acquire() as conn, conn.transaction():
            await lock_evaluation(conn)
            await self.rule_book.refresh(conn)
            rules = self.rule_book.rules
            now = self.clock()
            silences = await active_silences(conn, now)
            states = await _states_of_units(conn, sorted({item.unit_id for item in items}))
            results: list[EvaluationResult] = []
            for item in items:
                unit_states = states.setdefault(item.unit_id, {})
                for result in step(rules, unit_states, item, now, silences):
                    unit_states[result.state.rule_id] = result.state
                    results.append(result)
                if after_each is not None:
                    await after_each(conn, item)
            counts = await persist_results(conn, results, self.receivers, now)
        self.on_commit(*counts)
        return counts

    async def apply_indicators(self, messages: Sequence[UnitIndicators]) -> tuple[int, int]:
        """One batch of `unit-indicators` messages, in order, in one transaction."""
        return await self._evaluate_units(messages, engine.evaluate_indicators, _remember_live)

    async def tick(self) -> tuple[int, int]:
        """The clock alone: pending alerts whose `for` elapsed fire, repeats, silences that ended."""
        async with self.pool.acquire() as conn, conn.transaction():
            await lock_evaluation(conn)
            await self.rule_book.refresh(conn)
            rules = self.rule_book.rules
            now = self.clock()
            silences = await active_silences(conn, now)
            rows = await conn.fetch("SELECT data FROM alert_states WHERE state IN ('pending', 'firing')")
            states = [AlertState.from_dict(row["data"]) for row in rows]
            results = engine.tick(rules, states, now, silences)
            counts = await persist_results(conn, results, self.receivers, now)
        self.on_commit(*counts)
        return counts

    async def apply_near_due(self, snapshots: Sequence[UnitNearDue]) -> tuple[int, int]:
        return await self._evaluate_units(snapshots, engine.evaluate_near_due)

    async def acknowledge(self, alert_id: int, by: str, comment: str | None) -> AlertState | None:
        """Stop repeats of the current episode; None when there is no such alert. AcknowledgementError when
        the alert is not firing."""
        async with self.pool.acquire() as conn, conn.transaction():
            await lock_evaluation(conn)
            data = await conn.fetchval("SELECT data FROM alert_states WHERE alert_id = $1", alert_id)
            if data is None:
                return None
            state, transition = acknowledge(AlertState.from_dict(data), by, self.clock())
            await _save_state(conn, state, self.clock())
            await _insert_transition(conn, alert_id, transition, comment)
        self.on_commit(1, 0)
        return state
