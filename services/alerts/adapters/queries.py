"""Reads and small writes behind the HTTP API: alert views, history, silences (`PgAlertQueries` on the pool)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.alerts.adapters.alert_store import active_silences
from services.alerts.adapters.rule_store import PgRuleSets
from services.alerts.domain.alert_text import annotations_for
from services.alerts.domain.lifecycle import labels_of
from services.alerts.domain.rules import RuleSet
from services.alerts.domain.silences import Silence, silencing
from services.alerts.domain.state import AlertState
from services.alerts.domain.webhook import fingerprint
from services.alerts.service.ports import ActiveRules

TRANSITION_COLUMNS = """t.seq, t.alert_id, t.rule_id, t.unit_id, t.from_state, t.to_state, t.at, t.value, t.reason,
    t.silenced_by, t.actor, t.comment, t.recorded_at, s.data->>'unit_name' AS unit_name"""
TRANSITIONS = f"""SELECT {TRANSITION_COLUMNS} FROM alert_transitions t JOIN alert_states s USING (alert_id)
    WHERE t.seq > $1 AND ($2::bigint IS NULL OR t.alert_id = $2) AND ($3::text IS NULL OR t.unit_id = $3)
      AND ($4::text IS NULL OR t.rule_id = $4) AND ($5::timestamptz IS NULL OR t.at >= $5)
    ORDER BY t.seq LIMIT $6"""
LAST_TRANSITION_SEQ = "SELECT COALESCE(max(seq), 0) FROM alert_transitions"
ALERT_BY_ID = "SELECT alert_id, data, updated_at FROM alert_states WHERE alert_id = $1"
# list_alerts assembles its WHERE clause from these (only the filters asked for, so the planner sees plain
# predicates); every value is a bind parameter.
LIST_ALERTS = """SELECT s.alert_id, s.data, s.updated_at FROM alert_states s WHERE {where}
    ORDER BY s.updated_at DESC, s.alert_id LIMIT {limit}"""
STATE_FILTER = "s.state = ANY({}::text[])"
SUBTREE_FILTER = "(s.unit_id = {0} OR s.data->'ancestors' ? {0})"
UNIT_FILTER = "s.unit_id = {}"
RULE_FILTER = "s.rule_id = {}"
MOVED_SINCE_FILTER = "EXISTS (SELECT 1 FROM alert_transitions t WHERE t.alert_id = s.alert_id AND t.at >= {})"
SILENCE_COLUMNS = "silence_id, matchers, starts_at, ends_at, comment, author, created_at, expired_at"
CREATE_SILENCE = f"""INSERT INTO alert_silences (silence_id, matchers, starts_at, ends_at, comment, author)
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING {SILENCE_COLUMNS}"""
GET_SILENCE = f"SELECT {SILENCE_COLUMNS} FROM alert_silences WHERE silence_id = $1"
LIST_SILENCES = f"""SELECT {SILENCE_COLUMNS} FROM alert_silences
    WHERE $1 OR (expired_at IS NULL AND ends_at > $2) ORDER BY starts_at DESC, silence_id"""
EXPIRE_SILENCE = f"""UPDATE alert_silences SET expired_at = $2 WHERE silence_id = $1 AND expired_at IS NULL
    RETURNING {SILENCE_COLUMNS}"""


def alert_view(alert_id: int, state: AlertState, updated_at: datetime, rules: RuleSet,
               silences: list[Silence], now: datetime) -> dict[str, Any]:  # fmt: skip
    rule = rules.by_id(state.rule_id)
    view: dict[str, Any] = {
        "id": alert_id,
        "rule_id": state.rule_id,
        "rule_exists": rule is not None,
        "unit_id": state.unit_id,
        "unit_name": state.unit_name,
        "level": state.level,
        "state": state.state,
        "value": state.last_value,
        "last_observed_at": state.last_observed_at,
        "active_since": state.active_since,
        "pending_since": state.pending_since,
        "fired_at": state.fired_at,
        "resolved_at": state.resolved_at,
        "acknowledged_at": state.acknowledged_at,
        "acknowledged_by": state.acknowledged_by,
        "last_notified_at": state.last_notified_at,
        "dossier_count": state.item_count,
        "dossiers": [d.model_dump(mode="json") for d in state.items],
        "updated_at": updated_at,
        "rule_name": None,
        "severity": None,
        "labels": {},
        "fingerprint": None,
        "annotations": {},
        "silenced_by": [],
    }
    if rule is not None:
        labels = labels_of(rule, state)
        value = state.resolved_value if state.state == "resolved" else state.last_value
        view.update(
            rule_name=rule.name,
            severity=rule.severity,
            labels=labels,
            fingerprint=fingerprint(labels),
            annotations=annotations_for(rule, state, value) if state.unit_name else {},
            silenced_by=silencing(silences, labels, frozenset((state.unit_id, *state.ancestors)), now),
        )
    return view


def silence_status(row: asyncpg.Record, now: datetime) -> str:
    if row["expired_at"] is not None or row["ends_at"] <= now:
        return "expired"
    return "active" if row["starts_at"] <= now else "pending"


class PgAlertQueries:
    """The API's reads (and silences' writes) on the pool; also a `RuleSetReader` so a route can follow the
    newest rule set before it names rules."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def newer_rule_set(self, than_id: int) -> ActiveRules | None:
        async with self.pool.acquire() as conn:
            return await PgRuleSets(conn).newer_rule_set(than_id)

    async def active_silences(self, now: datetime) -> list[Silence]:
        async with self.pool.acquire() as conn:
            return await active_silences(conn, now)

    async def alert_by_id(self, alert_id: int) -> asyncpg.Record | None:
        async with self.pool.acquire() as conn:
            return await conn.fetchrow(ALERT_BY_ID, alert_id)

    async def list_alerts(
        self,
        *,
        states: list[str],
        unit_id: str | None,
        subtree: bool,
        rule_id: str | None,
        since: datetime | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        clauses = ["TRUE"]
        args: list[Any] = []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        if states:
            clauses.append(STATE_FILTER.format(arg(states)))
        if unit_id is not None:
            clauses.append((SUBTREE_FILTER if subtree else UNIT_FILTER).format(arg(unit_id)))
        if rule_id is not None:
            clauses.append(RULE_FILTER.format(arg(rule_id)))
        if since is not None:
            clauses.append(MOVED_SINCE_FILTER.format(arg(since)))
        sql = LIST_ALERTS.format(where=" AND ".join(clauses), limit=arg(limit))
        async with self.pool.acquire() as conn:
            return await conn.fetch(sql, *args)

    async def transitions(
        self,
        *,
        after_seq: int = 0,
        alert_id: int | None = None,
        unit_id: str | None = None,
        rule_id: str | None = None,
        since: datetime | None = None,
        limit: int = 500,
    ) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn:
            return await conn.fetch(TRANSITIONS, after_seq, alert_id, unit_id, rule_id, since, limit)

    async def last_transition_seq(self) -> int:
        async with self.pool.acquire() as conn:
            return int(await conn.fetchval(LAST_TRANSITION_SEQ))

    async def create_silence(self, silence: Silence) -> asyncpg.Record:
        async with self.pool.acquire() as conn:
            return await conn.fetchrow(
                CREATE_SILENCE, silence.id, [m.model_dump() for m in silence.matchers], silence.starts_at,
                silence.ends_at, silence.comment, silence.author,
            )  # fmt: skip

    async def get_silence(self, silence_id: str) -> asyncpg.Record | None:
        async with self.pool.acquire() as conn:
            return await conn.fetchrow(GET_SILENCE, silence_id)

    async def list_silences(self, include_expired: bool, now: datetime) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn:
            return await conn.fetch(LIST_SILENCES, include_expired, now)

    async def expire_silence(self, silence_id: str, now: datetime) -> asyncpg.Record | None:
        async with self.pool.acquire() as conn:
            return await conn.fetchrow(EXPIRE_SILENCE, silence_id, now)
