"""Reads and small writes behind the HTTP API: alert views, history, silences."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from services.alerts.domain.alert_text import annotations_for
from services.alerts.domain.lifecycle import labels_of
from services.alerts.domain.rules import RuleSet
from services.alerts.domain.silences import Silence, silencing
from services.alerts.domain.state import AlertState
from services.alerts.domain.webhook import fingerprint

TRANSITION_COLUMNS = """t.seq, t.alert_id, t.rule_id, t.unit_id, t.from_state, t.to_state, t.at, t.value, t.reason,
    t.silenced_by, t.actor, t.comment, t.recorded_at, s.data->>'unit_name' AS unit_name"""


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


async def list_alerts(
    conn: asyncpg.Connection,
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
        clauses.append(f"s.state = ANY({arg(states)}::text[])")
    if unit_id is not None:
        if subtree:
            p = arg(unit_id)
            clauses.append(f"(s.unit_id = {p} OR s.data->'ancestors' ? {p})")
        else:
            clauses.append(f"s.unit_id = {arg(unit_id)}")
    if rule_id is not None:
        clauses.append(f"s.rule_id = {arg(rule_id)}")
    if since is not None:
        clauses.append(
            f"EXISTS (SELECT 1 FROM alert_transitions t WHERE t.alert_id = s.alert_id AND t.at >= {arg(since)})"
        )
    sql = f"""SELECT s.alert_id, s.data, s.updated_at FROM alert_states s WHERE {" AND ".join(clauses)}
              ORDER BY s.updated_at DESC, s.alert_id LIMIT {arg(limit)}"""
    return await conn.fetch(sql, *args)


async def transitions(
    conn: asyncpg.Connection,
    *,
    after_seq: int = 0,
    alert_id: int | None = None,
    unit_id: str | None = None,
    rule_id: str | None = None,
    since: datetime | None = None,
    limit: int = 500,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {TRANSITION_COLUMNS} FROM alert_transitions t JOIN alert_states s USING (alert_id)
            WHERE t.seq > $1 AND ($2::bigint IS NULL OR t.alert_id = $2) AND ($3::text IS NULL OR t.unit_id = $3)
              AND ($4::text IS NULL OR t.rule_id = $4) AND ($5::timestamptz IS NULL OR t.at >= $5)
            ORDER BY t.seq LIMIT $6""",
        after_seq, alert_id, unit_id, rule_id, since, limit,
    )  # fmt: skip


async def last_transition_seq(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT COALESCE(max(seq), 0) FROM alert_transitions"))


SILENCE_COLUMNS = "silence_id, matchers, starts_at, ends_at, comment, author, created_at, expired_at"


async def create_silence(conn: asyncpg.Connection, silence: Silence) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO alert_silences (silence_id, matchers, starts_at, ends_at, comment, author)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {SILENCE_COLUMNS}""",
        silence.id, [m.model_dump() for m in silence.matchers], silence.starts_at, silence.ends_at,
        silence.comment, silence.author,
    )  # fmt: skip


def new_silence_id() -> str:
    return uuid.uuid4().hex


async def get_silence(conn: asyncpg.Connection, silence_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {SILENCE_COLUMNS} FROM alert_silences WHERE silence_id = $1", silence_id)


async def list_silences(conn: asyncpg.Connection, include_expired: bool, now: datetime) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {SILENCE_COLUMNS} FROM alert_silences
            WHERE $1 OR (expired_at IS NULL AND ends_at > $2) ORDER BY starts_at DESC, silence_id""",
        include_expired, now,
    )  # fmt: skip


async def expire_silence(conn: asyncpg.Connection, silence_id: str, now: datetime) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""UPDATE alert_silences SET expired_at = $2 WHERE silence_id = $1 AND expired_at IS NULL
            RETURNING {SILENCE_COLUMNS}""",
        silence_id, now,
    )  # fmt: skip


def silence_status(row: asyncpg.Record, now: datetime) -> str:
    if row["expired_at"] is not None or row["ends_at"] <= now:
        return "expired"
    return "active" if row["starts_at"] <= now else "pending"
