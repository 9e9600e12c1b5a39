"""The near-due digest: ask scoring for the lists of the units that may have dossiers due soon, then evaluate."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from services.alerts.domain.rules import NearDueRule
from services.alerts.service.evaluation import Evaluator
from services.alerts.service.ports import NearDueSource, NearDueStore, UnitLive
from shared.indicators import UnitNearDue

# Scoring's live `due_soon` counts dossiers due within 24 h: for longer horizons any open dossier may qualify.
DUE_SOON_HORIZON = timedelta(hours=24)


class NearDuePass:
    def __init__(self, store: NearDueStore, source: NearDueSource, evaluator: Evaluator, concurrency: int = 8) -> None:
        self.store = store
        self.source = source
        self.evaluator = evaluator
        self.concurrency = concurrency

    async def wanted(self) -> list[tuple[UnitLive, timedelta]]:
        """The units to ask about, each with the longest horizon of its near-due rules."""
        rule_book = self.evaluator.rule_book
        async with self.store.reader() as reader:
            # Which units to ask depends on the rules: follow a set activated by another process first. (The
            # evaluation itself checks again under the lock.)
            await rule_book.refresh(reader)
            rules = rule_book.rules
            near_due_ids = [r.id for r in rules.rules if isinstance(r, NearDueRule) and r.enabled]
            if not near_due_ids:
                return []
            live = await reader.units_live()
            active = await reader.units_with_live_alerts(near_due_ids)
        wanted: list[tuple[UnitLive, timedelta]] = []
        for unit in live:
            unit_rules = rules.near_due_rules_for(unit.unit_id, unit.level, unit.ancestors)
            if not unit_rules:
                continue
            horizon = max(rule.horizon for rule in unit_rules)
            maybe_due = unit.due_soon > 0 or (horizon > DUE_SOON_HORIZON and unit.open > 0)
            # Units with a firing list are asked too: that is how the list empties and the alert resolves.
            if maybe_due or unit.unit_id in active:
                wanted.append((unit, horizon))
        return wanted

    async def run(self) -> tuple[int, int]:
        wanted = await self.wanted()
        if not wanted:
            return 0, 0
        slots = asyncio.Semaphore(self.concurrency)

        async def one(unit: UnitLive, horizon: timedelta) -> UnitNearDue | None:
            async with slots:
                return await self.source.near_due(unit, horizon)

        snapshots = [s for s in await asyncio.gather(*(one(u, h) for u, h in wanted)) if s is not None]
        return await self.evaluator.apply_near_due(snapshots)
