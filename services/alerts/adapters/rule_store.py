"""The rule sets kept in PostgreSQL (`alert_rule_sets`): each activation is a row, the newest row is in force.

Every alerts process follows the newest row (service/rule_book.py); activating a set (which also closes the removed
rules' alerts) is service/activation.py. `PgRuleSets` answers both on one connection, inside the caller's
transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Literal

import asyncpg

from services.alerts.domain.rule_documents import load_rules, rule_definitions
from services.alerts.domain.rules import Rule, RuleSet
from services.alerts.service.ports import ActiveRules

INSERT_RULE_SET = """INSERT INTO alert_rule_sets (source, origin, body, sha256) VALUES ($1, $2, $3, $4)
    RETURNING rule_set_id, created_at"""
FILE_VERSION_SEEN = "SELECT EXISTS (SELECT 1 FROM alert_rule_sets WHERE source = 'file' AND sha256 = $1)"
NEWEST_RULE_SET = """SELECT rule_set_id, source, origin, body, created_at FROM alert_rule_sets
    ORDER BY rule_set_id DESC LIMIT 1"""
# The primary key's index answers this with one lookup: cheap enough for every batch and every tick.
NEWEST_RULE_SET_ID = "SELECT max(rule_set_id) FROM alert_rule_sets"
RULE_SETS_BEFORE = "SELECT rule_set_id, body FROM alert_rule_sets WHERE rule_set_id < $1 ORDER BY rule_set_id DESC"
TABLES_EXIST = "SELECT to_regclass('alert_rule_sets')"


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def active_from_row(row: asyncpg.Record, rules: RuleSet | None = None) -> ActiveRules:
    """`rules` when the caller already parsed this very body (saves loading it twice)."""
    if rules is None:
        rules = load_rules(row["body"], source=f"rule set {row['rule_set_id']} ({row['origin']})")
    return ActiveRules(rules, row["rule_set_id"], row["source"], row["origin"], row["created_at"])


class PgRuleSets:
    """`RuleSetWriter` on one connection (the caller holds the transaction and the evaluation lock)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def newer_rule_set(self, than_id: int) -> ActiveRules | None:
        newest_id = await self.conn.fetchval(NEWEST_RULE_SET_ID)
        if newest_id is None or newest_id <= than_id:
            return None
        return active_from_row(await self.conn.fetchrow(NEWEST_RULE_SET))

    async def tables_exist(self) -> bool:
        return await self.conn.fetchval(TABLES_EXIST) is not None

    async def newest_rule_set(self, parsed_body: str, parsed: RuleSet) -> ActiveRules | None:
        row = await self.conn.fetchrow(NEWEST_RULE_SET)
        if row is None:
            return None
        return active_from_row(row, parsed if row["body"] == parsed_body else None)

    async def file_version_seen(self, body: str) -> bool:
        return bool(await self.conn.fetchval(FILE_VERSION_SEEN, sha256_of(body)))

    async def insert_rule_set(
        self, rules: RuleSet, source: Literal["file", "api"], origin: str, body: str
    ) -> ActiveRules:
        row = await self.conn.fetchrow(INSERT_RULE_SET, source, origin, body, sha256_of(body))
        return ActiveRules(rules, row["rule_set_id"], source, origin, row["created_at"])

    async def last_definitions(self, rule_ids: Collection[str], before_id: int) -> dict[str, Rule]:
        """Usually the set just replaced answers for all of them; must run inside a transaction (cursor)."""
        missing = set(rule_ids)
        found: dict[str, Rule] = {}
        async for row in self.conn.cursor(RULE_SETS_BEFORE, before_id, prefetch=4):
            if not missing:
                break
            for rule_id, rule in rule_definitions(row["body"], missing).items():
                found[rule_id] = rule
                missing.discard(rule_id)
        return found
