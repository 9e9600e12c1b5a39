"""Activating a rule set: at start (the rules file) and through the admin API, in ONE session each.

Newest change wins. At start the file is compared (by hash) with the file versions this database has seen: a file
that changed since (a new deploy) becomes active; an unchanged file leaves a rule set put through the API in
force, so a restart never silently undoes an operator's change.

The session that makes a set active also closes every pending/firing alert whose rule is not in it
(domain/retirement.py): transitions, the resolved notifications and their outbox rows are committed with the
new `alert_rule_sets` row or not at all, under the evaluation lock. So a crash either loses the whole activation
(redone at the next start or PUT) or none of it, and a closed alert is never closed or notified twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from services.alerts.domain.notifications import Notification
from services.alerts.domain.receivers import Receivers
from services.alerts.domain.retirement import retire_orphans
from services.alerts.domain.rule_documents import load_rules
from services.alerts.service.evaluation import Evaluator, persist_results
from services.alerts.service.ports import ActiveRules, AlertSession, AlertStore, Clock, OnCommit

log = logging.getLogger(__name__)


async def retire_removed(
    session: AlertSession, active: ActiveRules, receivers: Receivers, now: datetime
) -> tuple[int, int]:
    """Close the live alerts of rules not in `active`, inside the activation's session.
    Returns (transitions, notifications) written."""
    states = await session.live_states_of_other_rules([rule.id for rule in active.rules.rules if rule.enabled])
    if not states:
        return 0, 0
    removed_ids = {state.rule_id for state in states.values() if active.rules.by_id(state.rule_id) is None}
    definitions = await session.last_definitions(removed_ids, active.rule_set_id)
    last_notices: dict[tuple[str, str], Notification] = {}
    for alert_id, state in states.items():
        if state.rule_id in definitions:
            continue
        log.warning("no stored definition of removed rule %s left; closing its alert %d from its last message",
                    state.rule_id, alert_id)  # fmt: skip
        notice = await session.last_notification(alert_id)
        if notice is not None:
            last_notices[(state.rule_id, state.unit_id)] = notice
    silences = await session.active_silences(now)
    results = retire_orphans(
        states.values(), active.rules, active.rule_set_id, now, definitions, last_notices, silences
    )
    counts = await persist_results(session, results, receivers, now)
    if results:
        log.info("rule set %d: closed %d alert(s) of removed rule(s) %s, %d resolved notification(s)",
                 active.rule_set_id, len(results), ", ".join(sorted(removed_ids)), counts[1])  # fmt: skip
    return counts


async def activate_at_start(
    store: AlertStore, text: str, source: str, receivers: Receivers, clock: Clock, on_commit: OnCommit
) -> ActiveRules:
    """The rule set in force after a start, from the rules file's `text` (validated first: a broken file stops
    the service). Live alerts of rules outside it are closed, also when nothing new is activated: that catches
    what an older version of the service left open."""
    file_rules = load_rules(text, source=source)
    # Several processes may start together: under the lock one of them inserts a changed file, the others see it.
    async with store.session() as session:
        if not await session.tables_exist():
            raise RuntimeError("the alerts tables do not exist: apply the migrations (python -m shared.migrate)")
        newest = await session.newest_rule_set(text, file_rules) if await session.file_version_seen(text) else None
        if newest is not None:
            active = newest
        else:
            active = await session.insert_rule_set(file_rules, "file", source, text)
        counts = await retire_removed(session, active, receivers, clock())
    on_commit(*counts)
    return active


async def replace_rules(evaluator: Evaluator, body: str, origin: str) -> ActiveRules:
    """Validate (RuleFileError on any problem, nothing stored), make the document the active set and close the
    alerts of the rules it drops; this process switches at once, the others at their next batch or tick."""
    rules = load_rules(body, source="request body")
    async with evaluator.store.session() as session:
        active = await session.insert_rule_set(rules, "api", origin, body)
        counts = await retire_removed(session, active, evaluator.receivers.current, evaluator.clock())
    evaluator.rule_book.replace(active)
    evaluator.on_commit(*counts)
    return active
