"""The active rule set: loaded from the file at start, replaced through the admin API, kept in PostgreSQL.

Newest change wins. At start the file is compared (by hash) with the last file version this database saw: a file
that changed since (a new deploy) becomes active; an unchanged file leaves a rule set put through the API in
force, so a restart never silently undoes an operator's change.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import asyncpg

from services.alerts.domain.rules import RuleSet, load_rules


@dataclass(frozen=True)
class ActiveRules:
    rules: RuleSet
    rule_set_id: int
    source: Literal["file", "api"]
    origin: str
    activated_at: datetime


class RuleBook:
    """The rule set every evaluation reads; swapped as a whole, so one evaluation never mixes two sets."""

    def __init__(self, active: ActiveRules) -> None:
        self.active = active

    @property
    def rules(self) -> RuleSet:
        return self.active.rules


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def _insert(conn: asyncpg.Connection, source: str, origin: str, body: str) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO alert_rule_sets (source, origin, body, sha256) VALUES ($1, $2, $3, $4)
           RETURNING rule_set_id, created_at""",
        source, origin, body, _sha256(body),
    )  # fmt: skip


async def activate_at_start(pool: asyncpg.Pool, path: Path) -> ActiveRules:
    """The rule set in force after a start (the file is validated first: a broken file stops the service)."""
    text = await asyncio.to_thread(path.read_text, "utf-8")
    file_rules = load_rules(text, source=str(path))
    digest = _sha256(text)
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval("SELECT to_regclass('alert_rule_sets')") is None:
            raise RuntimeError("the alerts tables do not exist: apply the migrations (python -m shared.migrate)")
        seen = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM alert_rule_sets WHERE source = 'file' AND sha256 = $1)", digest
        )
        newest = await conn.fetchrow(
            """SELECT rule_set_id, source, origin, body, created_at FROM alert_rule_sets
               ORDER BY rule_set_id DESC LIMIT 1"""
        )
        if seen and newest is not None:
            rules = file_rules if newest["body"] == text else load_rules(newest["body"], source=newest["origin"])
            return ActiveRules(rules, newest["rule_set_id"], newest["source"], newest["origin"], newest["created_at"])
        row = await _insert(conn, "file", str(path), text)
        return ActiveRules(file_rules, row["rule_set_id"], "file", str(path), row["created_at"])


async def replace_rules(pool: asyncpg.Pool, body: str, origin: str) -> ActiveRules:
    """Validate (RuleFileError on any problem, nothing stored) and make the document the active set."""
    rules = load_rules(body, source="request body")
    async with pool.acquire() as conn:
        row = await _insert(conn, "api", origin, body)
    return ActiveRules(rules, row["rule_set_id"], "api", origin, row["created_at"])
