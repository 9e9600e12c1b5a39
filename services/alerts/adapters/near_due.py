"""The near-due pass: ask scoring for the lists of the units that may have dossiers due soon, then evaluate."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import asyncpg
import httpx

from services.alerts.adapters.evaluation import Evaluator
from services.alerts.adapters.metrics import AlertMetrics
from services.alerts.adapters.scoring_client import UnitInfo, fetch_near_due, is_scoring_outage
from services.alerts.domain.rules import NearDueRule
from shared.indicators import UnitNearDue
from shared.outages import DependencyState

log = logging.getLogger(__name__)

# Scoring's live `due_soon` counts dossiers due within 24 h: for longer horizons any open dossier may qualify.
DUE_SOON_HORIZON = timedelta(hours=24)


async def near_due_pass(
    pool: asyncpg.Pool,
    evaluator: Evaluator,
    client: httpx.AsyncClient,
    metrics: AlertMetrics,
    concurrency: int = 8,
    scoring: DependencyState | None = None,
) -> tuple[int, int]:
    async with pool.acquire() as conn:
        # Which units to ask depends on the rules: follow a set activated by another process first. (The
        # evaluation itself checks again under the lock.)
        await evaluator.rule_book.refresh(conn)
        rules = evaluator.rule_book.rules
        near_due_ids = [r.id for r in rules.rules if isinstance(r, NearDueRule) and r.enabled]
        if not near_due_ids:
            return 0, 0
        live = await conn.fetch("SELECT unit_id, name, level, ancestors, open, due_soon FROM alert_unit_live")
        active = {
            r["unit_id"]
            for r in await conn.fetch(
                "SELECT unit_id FROM alert_states WHERE state IN ('pending', 'firing') AND rule_id = ANY($1::text[])",
                near_due_ids,
            )
        }
    wanted: list[tuple[UnitInfo, timedelta]] = []
    for row in live:
        unit = UnitInfo(unit_id=row["unit_id"], name=row["name"], level=row["level"], ancestors=list(row["ancestors"]))
        unit_rules = rules.near_due_rules_for(unit.unit_id, unit.level, unit.ancestors)
        if not unit_rules:
            continue
        horizon = max(rule.horizon for rule in unit_rules)
        maybe_due = row["due_soon"] > 0 or (horizon > DUE_SOON_HORIZON and row["open"] > 0)
        # Units with a firing list are asked too: that is how the list empties and the alert resolves.
        if maybe_due or unit.unit_id in active:
            wanted.append((unit, horizon))

    slots = asyncio.Semaphore(concurrency)

    async def one(unit: UnitInfo, horizon: timedelta) -> UnitNearDue | None:
        async with slots:
            try:
                snapshot = await fetch_near_due(client, unit, horizon)
            except (httpx.HTTPError, ValueError) as error:
                metrics.near_due_fetch_errors.inc()
                if scoring is not None and is_scoring_outage(error):
                    scoring.failed(error)  # one line per outage, not one per unit and pass
                else:
                    log.warning("near-due list of %s unavailable: %s", unit.unit_id, error)
                return None
            if scoring is not None:
                scoring.succeeded()
            return snapshot

    snapshots = [s for s in await asyncio.gather(*(one(u, h) for u, h in wanted)) if s is not None]
    return await evaluator.apply_near_due(snapshots)
