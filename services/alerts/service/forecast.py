"""The forecast rules: ask scoring for the month-end forecasts of the levels the rules watch, then evaluate.

One request per watched level per pass (`GET /v1/forecasts?level=…`: scoring ranks a whole level in one
computation anyway), every `FORECAST_INTERVAL_S` (default 5 minutes): 126+ units never mean 126 requests, and a
forecast moves with the month's figures, which change by the minute, not the second. A level scoring did not
answer is skipped until the next pass (its alerts keep their state, as with no data).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from services.alerts.domain.rules import ForecastRule
from services.alerts.service.evaluation import Evaluator
from services.alerts.service.ports import ForecastSource, RuleSetReaders

LEVELS = ("city", "department", "district", "commune")


def levels_watched(rules: Iterable[ForecastRule]) -> list[str]:
    """The levels whose units some enabled forecast rule may cover (a rule without levels covers them all)."""
    levels: set[str] = set()
    for rule in rules:
        if not rule.enabled:
            continue
        if not rule.scope.levels:
            return list(LEVELS)
        levels.update(str(level) for level in rule.scope.levels)
    return [level for level in LEVELS if level in levels]


class ForecastPass:
    def __init__(self, store: RuleSetReaders, source: ForecastSource, evaluator: Evaluator) -> None:
        self.store = store
        self.source = source
        self.evaluator = evaluator

    async def levels(self) -> list[str]:
        rule_book = self.evaluator.rule_book
        async with self.store.reader() as reader:
            # Follow a set activated by another process first (the evaluation checks again under the lock).
            await rule_book.refresh(reader)
        return levels_watched(rule_book.rules.forecast_rules)

    async def run(self) -> tuple[int, int]:
        """(transitions, notifications) written; nothing asked when no forecast rule is enabled."""
        levels = await self.levels()
        if not levels:
            return 0, 0
        answers = await asyncio.gather(*(self.source.forecasts(level) for level in levels))
        forecasts = [forecast for answer in answers if answer for forecast in answer]
        return await self.evaluator.apply_forecasts(forecasts)
