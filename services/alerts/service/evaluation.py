"""Evaluating rules: on `unit-indicators` messages, on the clock (tick), on near-due lists; acknowledgements.

Each step is ONE session of the alert store (one transaction under the evaluation lock) that writes the new
states, their transitions, the notifications and their outbox rows. The Kafka offsets are committed only after it,
so a crash replays the batch; the replayed messages are not newer than what the states already used, and
notification ids are stable, so nothing is lost and nothing is doubled. Under the lock each evaluation first
follows the newest rule set (`RuleBook.refresh`): activating a set takes the same lock, so once another process
has activated a set no evaluation anywhere uses the one it replaced (which could otherwise reopen alerts of a rule
just removed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime

from services.alerts.domain import engine
from services.alerts.domain.forecasts import UnitForecast
from services.alerts.domain.lifecycle import EvaluationResult, acknowledge
from services.alerts.domain.receivers import Receivers, routes_for
from services.alerts.domain.rules import RuleSet
from services.alerts.domain.silences import Silence
from services.alerts.domain.state import AlertState
from services.alerts.service.ports import AlertSession, AlertStore, Clock, OnCommit
from services.alerts.service.receivers import ReceiverRegistry
from services.alerts.service.rule_book import RuleBook
from shared.indicators import UnitIndicators, UnitNearDue

# What a step computes from the session, the rule set in force, the instant and the active silences.
Evaluate = Callable[[AlertSession, RuleSet, datetime, list[Silence]], Awaitable[list[EvaluationResult]]]


async def persist_results(
    session: AlertSession, results: Iterable[EvaluationResult], receivers: Receivers, now: datetime
) -> tuple[int, int]:
    """Write states, transitions, notifications and outbox rows; returns (transitions, notifications) written."""
    transitions = notifications = 0
    for result in results:
        alert_id = await session.save_state(result.state, now)
        for transition in result.transitions:
            await session.insert_transition(alert_id, transition)
            transitions += 1
        subtree = [result.state.unit_id, *result.state.ancestors]
        for notification in result.notifications:
            if not await session.insert_notification(alert_id, notification, subtree, now):
                continue  # the same step already ran and committed: its outbox rows exist
            notifications += 1
            await session.enqueue(notification.id, routes_for(receivers, notification, subtree), now)
    return transitions, notifications


class Evaluator:
    def __init__(
        self,
        store: AlertStore,
        rule_book: RuleBook,
        receivers: ReceiverRegistry,
        clock: Clock,
        on_commit: OnCommit = lambda transitions, notifications: None,
    ) -> None:
        self.store = store
        self.rule_book = rule_book
        self.receivers = receivers
        self.clock = clock
        self.on_commit = on_commit

    async def _step(self, evaluate: Evaluate) -> tuple[int, int]:
        """One step in one session, under the evaluation lock: follow the newest rule set, evaluate, write the
        results (states, history, notifications, outbox rows) together; then tell `on_commit`."""
        async with self.store.session() as session:
            await self.rule_book.refresh(session)
            now = self.clock()
            silences = await session.active_silences(now)
            results = await evaluate(session, self.rule_book.rules, now, silences)
            counts = await persist_results(session, results, self.receivers.current, now)
        self.on_commit(*counts)
        return counts

    async def _evaluate_units(
        self, items: Sequence[UnitIndicators] | Sequence[UnitNearDue] | Sequence[UnitForecast]
    ) -> tuple[int, int]:
        """Per-unit inputs, in order, in one step."""
        if not items:
            return 0, 0

        async def evaluate(
            session: AlertSession, rules: RuleSet, now: datetime, silences: list[Silence]
        ) -> list[EvaluationResult]:
            states = await session.states_of_units(sorted({item.unit_id for item in items}))
            results: list[EvaluationResult] = []
            for item in items:
                unit_states = states.setdefault(item.unit_id, {})
                for result in engine.evaluate_unit(rules, unit_states, item, now, silences):
                    unit_states[result.state.rule_id] = result.state
                    results.append(result)
                if isinstance(item, UnitIndicators):
                    await session.remember_live(item)
            return results

        return await self._step(evaluate)

    async def apply_indicators(self, messages: Sequence[UnitIndicators]) -> tuple[int, int]:
        """One batch of `unit-indicators` messages, in order, in one transaction."""
        return await self._evaluate_units(messages)

    async def apply_near_due(self, snapshots: Sequence[UnitNearDue]) -> tuple[int, int]:
        return await self._evaluate_units(snapshots)

    async def apply_forecasts(self, forecasts: Sequence[UnitForecast]) -> tuple[int, int]:
        """Month-end forecasts of many units (one pass of service/forecast.py), in one transaction."""
        return await self._evaluate_units(forecasts)

    async def tick(self) -> tuple[int, int]:
        """The clock alone: pending alerts whose `for` elapsed fire, repeats, silences that ended."""

        async def evaluate(
            session: AlertSession, rules: RuleSet, now: datetime, silences: list[Silence]
        ) -> list[EvaluationResult]:
            return engine.tick(rules, await session.live_states(), now, silences)

        return await self._step(evaluate)

    async def acknowledge(self, alert_id: int, by: str, comment: str | None) -> AlertState | None:
        """Stop repeats of the current episode; None when there is no such alert. AcknowledgementError when
        the alert is not firing."""
        async with self.store.session() as session:
            current = await session.alert_state(alert_id)
            if current is None:
                return None
            state, transition = acknowledge(current, by, self.clock())
            await session.save_state(state, self.clock())
            await session.insert_transition(alert_id, transition, comment)
        self.on_commit(1, 0)
        return state
