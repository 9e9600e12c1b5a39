"""The rule sets kept in PostgreSQL (`alert_rule_sets`): each activation is a row, the newest row is in force.

Every alerts process follows the newest row: `RuleBook.refresh` compares the newest rule_set_id with the one it
holds (one index lookup) and loads the newer set when another process activated one. Evaluations call it after
taking the evaluation lock, which activations take too, so no process evaluates with a set older than the newest
committed one. Activating a set (which also closes the removed rules' alerts) is `adapters/activation.py`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from services.alerts.domain.rules import Rule, RuleSet, load_rules, rule_definitions

log = logging.getLogger(__name__)

INSERT_RULE_SET = """INSERT INTO alert_rule_sets (source, origin, body, sha256) VALUES ($1, $2, $3, $4)
    RETURNING rule_set_id, created_at"""
FILE_VERSION_SEEN = "SELECT EXISTS (SELECT 1 FROM alert_rule_sets WHERE source = 'file' AND sha256 = $1)"
NEWEST_RULE_SET = """SELECT rule_set_id, source, origin, body, created_at FROM alert_rule_sets
    ORDER BY rule_set_id DESC LIMIT 1"""
# The primary key's index answers this with one lookup: cheap enough for every batch and every tick.
NEWEST_RULE_SET_ID = "SELECT max(rule_set_id) FROM alert_rule_sets"
RULE_SETS_BEFORE = "SELECT rule_set_id, body FROM alert_rule_sets WHERE rule_set_id < $1 ORDER BY rule_set_id DESC"


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

    def replace(self, active: ActiveRules) -> None:
        """Take `active` unless a newer set is already held (ids only grow: newest wins in every process)."""
        if active.rule_set_id > self.active.rule_set_id:
            self.active = active

    async def refresh(self, conn: asyncpg.Connection) -> bool:
        """Switch to the newest set in the database if it is newer than the one held; True when it switched.
        A stored set that no longer loads raises RuleFileError: better to stop evaluating (the step is retried
        and logged) than to go on with a set that is no longer in force."""
        newest_id = await conn.fetchval(NEWEST_RULE_SET_ID)
        if newest_id is None or newest_id <= self.active.rule_set_id:
            return False
        row = await conn.fetchrow(NEWEST_RULE_SET)
        newer = active_from_row(row)
        self.replace(newer)
        log.info("switched to rule set %d (%s, %d rules)", newer.rule_set_id, newer.source, len(newer.rules.rules))
        return True


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def active_from_row(row: asyncpg.Record, rules: RuleSet | None = None) -> ActiveRules:
    """`rules` when the caller already parsed this very body (saves loading it twice)."""
    if rules is None:
        rules = load_rules(row["body"], source=f"rule set {row['rule_set_id']} ({row['origin']})")
    return ActiveRules(rules, row["rule_set_id"], row["source"], row["origin"], row["created_at"])


async def insert_rule_set(
    conn: asyncpg.Connection, rules: RuleSet, source: Literal["file", "api"], origin: str, body: str
) -> ActiveRules:
    row = await conn.fetchrow(INSERT_RULE_SET, source, origin, body, sha256_of(body))
    return ActiveRules(rules, row["rule_set_id"], source, origin, row["created_at"])


async def file_version_seen(conn: asyncpg.Connection, body: str) -> bool:
    return bool(await conn.fetchval(FILE_VERSION_SEEN, sha256_of(body)))


async def newest_rule_set(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow(NEWEST_RULE_SET)


async def last_definitions(conn: asyncpg.Connection, rule_ids: Collection[str], before_id: int) -> dict[str, Rule]:
    """Each rule as it was last in force: from the newest set older than `before_id` that still yields it.
    Usually the set just replaced answers for all of them; must run inside a transaction (cursor)."""
    missing = set(rule_ids)
    found: dict[str, Rule] = {}
    async for row in conn.cursor(RULE_SETS_BEFORE, before_id, prefetch=4):
        if not missing:
            break
        for rule_id, rule in rule_definitions(row["body"], missing).items():
            found[rule_id] = rule
            missing.discard(rule_id)
    return found
