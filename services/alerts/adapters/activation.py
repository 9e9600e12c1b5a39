"""Activating a rule set: at start (the rules file) and through the admin API, in ONE transaction each.

Newest change wins. At start the file is compared (by hash) with the file versions this database has seen: a file
that changed since (a new deploy) becomes active; an unchanged file leaves a rule set put through the API in
force, so a restart never silently undoes an operator's change.

The transaction that makes a set active also closes every pending/firing alert whose rule is not in it
(domain/retirement.py): transitions, the resolved notifications and their outbox rows are committed with the
new `alert_rule_sets` row or not at all, under the evaluation lock. So a crash either loses the whole activation
(redone at the next start or PUT) or none of it, and a closed alert is never closed or notified twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import asyncpg

from services.alerts.adapters import rule_store
from services.alerts.adapters.evaluation import Evaluator, active_silences, lock_evaluation, persist_results
from services.alerts.adapters.receivers import Receivers
from services.alerts.adapters.rule_store import ActiveRules
from services.alerts.domain.notifications import Notification
from services.alerts.domain.retirement import retire_orphans
from services.alerts.domain.rules import load_rules
from services.alerts.domain.state import AlertState

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
OnCommit = Callable[[int, int], None]

# Uses the partial index on live states; the enabled rules in force are excluded here and checked again by the
# domain (a disabled rule's alerts close like a removed one's).
LIVE_STATES_OF_OTHER_RULES = """SELECT alert_id, data FROM alert_states
    WHERE state IN ('pending', 'firing') AND NOT (rule_id = ANY($1::text[]))"""
# Only for the fallback when no definition of a removed rule is left: the labels receivers know the alert by.
LAST_NOTIFICATION = """SELECT body FROM alert_notifications WHERE alert_id = $1
    ORDER BY created_at DESC, (body->>'sequence')::int DESC LIMIT 1"""
TABLES_EXIST = "SELECT to_regclass('alert_rule_sets')"


async def retire_removed(
    conn: asyncpg.Connection, active: ActiveRules, receivers: Receivers, now: datetime
) -> tuple[int, int]:
    """Close the live alerts of rules not in `active`; inside the activation's transaction, under the lock.
    Returns (transitions, notifications) written."""
    rows = await conn.fetch(LIVE_STATES_OF_OTHER_RULES, [rule.id for rule in active.rules.rules if rule.enabled])
    if not rows:
        return 0, 0
    states = {row["alert_id"]: AlertState.from_dict(row["data"]) for row in rows}
    removed_ids = {state.rule_id for state in states.values() if active.rules.by_id(state.rule_id) is None}
    definitions = await rule_store.last_definitions(conn, removed_ids, active.rule_set_id)
    last_notices: dict[tuple[str, str], Notification] = {}
    for alert_id, state in states.items():
        if state.rule_id in definitions:
            continue
        log.warning("no stored definition of removed rule %s left; closing its alert %d from its last message",
                    state.rule_id, alert_id)  # fmt: skip
        body = await conn.fetchval(LAST_NOTIFICATION, alert_id)
        if body is not None:
            last_notices[(state.rule_id, state.unit_id)] = Notification.model_validate(body)
    silences = await active_silences(conn, now)
    results = retire_orphans(
        states.values(), active.rules, active.rule_set_id, now, definitions, last_notices, silences
    )
    counts = await persist_results(conn, results, receivers, now)
    if results:
        log.info("rule set %d: closed %d alert(s) of removed rule(s) %s, %d resolved notification(s)",
                 active.rule_set_id, len(results), ", ".join(sorted(removed_ids)), counts[1])  # fmt: skip
    return counts


async def activate_at_start(
    pool: asyncpg.Pool, path: Path, receivers: Receivers, clock: Clock, on_commit: OnCommit
) -> ActiveRules:
    """The rule set in force after a start (the file is validated first: a broken file stops the service).
    Live alerts of rules outside it are closed, also when nothing new is activated: that catches what an older
    version of the service left open."""
    text = await asyncio.to_thread(path.read_text, "utf-8")
    file_rules = load_rules(text, source=str(path))
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(TABLES_EXIST) is None:
            raise RuntimeError("the alerts tables do not exist: apply the migrations (python -m shared.migrate)")
        # Several processes may start together: one of them inserts a changed file, the others see it.
        await lock_evaluation(conn)
        newest = await rule_store.newest_rule_set(conn)
        if newest is not None and await rule_store.file_version_seen(conn, text):
            active = rule_store.active_from_row(newest, file_rules if newest["body"] == text else None)
        else:
            active = await rule_store.insert_rule_set(conn, file_rules, "file", str(path), text)
        counts = await retire_removed(conn, active, receivers, clock())
    on_commit(*counts)
    return active


async def replace_rules(evaluator: Evaluator, body: str, origin: str) -> ActiveRules:
    """Validate (RuleFileError on any problem, nothing stored), make the document the active set and close the
    alerts of the rules it drops; this process switches at once, the others at their next batch or tick."""
    rules = load_rules(body, source="request body")
    async with evaluator.pool.acquire() as conn, conn.transaction():
        await lock_evaluation(conn)
        active = await rule_store.insert_rule_set(conn, rules, "api", origin, body)
        counts = await retire_removed(conn, active, evaluator.receivers, evaluator.clock())
    evaluator.rule_book.replace(active)
    evaluator.on_commit(*counts)
    return active
