"""Hand-written fakes of the alerts use cases' interfaces (service/ports.py): in-memory stores, a transport that
answers what the test scripts, a clock the test moves, a near-due source. No database, no network."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from services.alerts.domain.forecasts import UnitForecast
from services.alerts.domain.notifications import Notification
from services.alerts.domain.receivers import AnyReceiver, Receivers, parse_receivers
from services.alerts.domain.retention import Purged
from services.alerts.domain.rule_documents import rule_definitions
from services.alerts.domain.rules import Rule, RuleSet
from services.alerts.domain.silences import Silence
from services.alerts.domain.state import AlertState, Transition
from services.alerts.domain.todo_digest import TodoList
from services.alerts.service.ports import (
    ActiveRules,
    ApiReceivers,
    Attempt,
    NewMessage,
    PendingMessage,
    SendResult,
    UnitLive,
    Waiting,
)
from shared.indicators import UnitIndicators, UnitNearDue
from tests.unit.alerts.factories import T0

SECRET = "0123456789abcdef0123456789abcdef"


def webhook_receivers(*names: str, retry: str = "{base: 2s, cap: 10m}", matchers: str = "[]") -> Receivers:
    """Webhook receivers (every alert, no group wait) with their HMAC secrets in force."""
    entries = "".join(
        f"""
  - name: {name}
    type: webhook
    url: https://hooks.example.vn/{name}
    secret_env: HOOK_SECRET
    matchers: {matchers}
    grouping: {{group_wait: 0s, group_interval: 1m}}
    retry: {retry}
"""
        for name in names
    )
    return parse_receivers(f"version: 1\nreceivers:{entries or ' []'}\n", {"HOOK_SECRET": SECRET})


class Calls:
    """A hook (on_commit, on_outcome, …) that remembers every call's arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def __call__(self, *args: object) -> None:
        self.calls.append(args)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


# --- alert store ---------------------------------------------------------------------------------------------


@dataclass
class StoredRuleSet:
    active: ActiveRules
    body: str


@dataclass
class FakeAlertStore:
    """`AlertStore` and `NearDueStore`: every session sees and changes the same dicts (no rollback)."""

    states: dict[tuple[str, str], tuple[int, AlertState]] = field(default_factory=dict)
    transitions: list[tuple[int, Transition, str | None]] = field(default_factory=list)
    notifications: dict[str, tuple[int, Notification, list[str]]] = field(default_factory=dict)
    outbox: list[tuple[str, str]] = field(default_factory=list)  # (notification id, receiver)
    silences: list[Silence] = field(default_factory=list)
    rule_sets: list[StoredRuleSet] = field(default_factory=list)
    live: dict[str, UnitIndicators] = field(default_factory=dict)
    sessions: int = 0

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[FakeAlertSession]:
        self.sessions += 1
        yield FakeAlertSession(self)

    @contextlib.asynccontextmanager
    async def reader(self) -> AsyncIterator[FakeAlertSession]:
        yield FakeAlertSession(self)

    def add_rule_set(self, rules: RuleSet, body: str = "", source: Literal["file", "api"] = "file") -> ActiveRules:
        active = ActiveRules(rules, len(self.rule_sets) + 1, source, "test", T0)
        self.rule_sets.append(StoredRuleSet(active, body))
        return active

    def state(self, rule_id: str, unit_id: str) -> AlertState:
        return self.states[(rule_id, unit_id)][1]

    def kinds(self) -> list[str]:
        return [n.kind for _, n, _ in self.notifications.values()]


class FakeAlertSession:
    def __init__(self, store: FakeAlertStore) -> None:
        self.store = store

    # rule sets
    async def newer_rule_set(self, than_id: int) -> ActiveRules | None:
        newest = self.store.rule_sets[-1].active if self.store.rule_sets else None
        return newest if newest is not None and newest.rule_set_id > than_id else None

    async def tables_exist(self) -> bool:
        return True

    async def newest_rule_set(self, parsed_body: str, parsed: RuleSet) -> ActiveRules | None:
        return self.store.rule_sets[-1].active if self.store.rule_sets else None

    async def file_version_seen(self, body: str) -> bool:
        return any(s.body == body and s.active.source == "file" for s in self.store.rule_sets)

    async def insert_rule_set(
        self, rules: RuleSet, source: Literal["file", "api"], origin: str, body: str
    ) -> ActiveRules:
        return self.store.add_rule_set(rules, body, source)

    async def last_definitions(self, rule_ids: Collection[str], before_id: int) -> dict[str, Rule]:
        found: dict[str, Rule] = {}
        for stored in reversed(self.store.rule_sets):
            if stored.active.rule_set_id < before_id:
                for rule_id, rule in rule_definitions(stored.body, set(rule_ids) - set(found)).items():
                    found[rule_id] = rule
        return found

    # states and history
    async def active_silences(self, now: datetime) -> list[Silence]:
        return [s for s in self.store.silences if s.starts_at <= now < s.ends_at]

    async def states_of_units(self, unit_ids: Sequence[str]) -> dict[str, dict[str, AlertState]]:
        by_unit: dict[str, dict[str, AlertState]] = {}
        for (rule_id, unit_id), (_, state) in self.store.states.items():
            if unit_id in unit_ids:
                by_unit.setdefault(unit_id, {})[rule_id] = state
        return by_unit

    async def live_states(self) -> list[AlertState]:
        return [s for _, s in self.store.states.values() if s.state in ("pending", "firing")]

    async def live_states_of_other_rules(self, rule_ids: Sequence[str]) -> dict[int, AlertState]:
        return {
            alert_id: s
            for alert_id, s in self.store.states.values()
            if s.state in ("pending", "firing") and s.rule_id not in rule_ids
        }

    async def last_notification(self, alert_id: int) -> Notification | None:
        mine = [n for a, n, _ in self.store.notifications.values() if a == alert_id]
        return mine[-1] if mine else None

    async def alert_state(self, alert_id: int) -> AlertState | None:
        return next((s for a, s in self.store.states.values() if a == alert_id), None)

    async def remember_live(self, message: UnitIndicators) -> None:
        self.store.live[message.unit_id] = message

    async def save_state(self, state: AlertState, now: datetime) -> int:
        key = (state.rule_id, state.unit_id)
        alert_id = self.store.states[key][0] if key in self.store.states else len(self.store.states) + 1
        self.store.states[key] = (alert_id, state)
        return alert_id

    async def insert_transition(self, alert_id: int, transition: Transition, comment: str | None = None) -> None:
        self.store.transitions.append((alert_id, transition, comment))

    async def insert_notification(
        self, alert_id: int, notification: Notification, subtree: list[str], now: datetime
    ) -> bool:
        if notification.id in self.store.notifications:
            return False
        self.store.notifications[notification.id] = (alert_id, notification, subtree)
        return True

    async def enqueue(self, notification_id: str, receivers: Sequence[str], now: datetime) -> None:
        self.store.outbox.extend((notification_id, r) for r in receivers)

    # near-due reader
    async def units_live(self) -> list[UnitLive]:
        return [
            UnitLive(m.unit_id, m.name, m.level, list(m.ancestors), m.live.open, m.live.due_soon)
            for m in self.store.live.values()
        ]

    async def units_with_live_alerts(self, rule_ids: Sequence[str]) -> set[str]:
        return {s.unit_id for _, s in self.store.states.values() if s.rule_id in rule_ids and s.state != "resolved"}


# --- outbox --------------------------------------------------------------------------------------------------


@dataclass
class StoredMessage:
    message: PendingMessage
    status: str = "pending"
    last_error: str | None = None


@dataclass
class FakeOutboxStore:
    waiting: dict[str, list[Waiting]] = field(default_factory=dict)  # per receiver
    flushes: dict[tuple[str, str], datetime] = field(default_factory=dict)
    messages: list[StoredMessage] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    purge_chunks: list[Purged] = field(default_factory=list)  # what successive purge calls answer

    @contextlib.asynccontextmanager
    async def planning(self, receiver: str) -> AsyncIterator[FakePlanning]:
        yield FakePlanning(self, receiver)

    async def pending_heads(self) -> list[PendingMessage]:
        heads: dict[tuple[str, str], PendingMessage] = {}
        for stored in self.messages:
            m = stored.message
            if stored.status == "pending":
                heads.setdefault((m.receiver, m.group_key), m)
        return list(heads.values())

    async def record_attempt(self, message: PendingMessage, attempt: Attempt) -> None:
        self.attempts.append(attempt)
        stored = next(s for s in self.messages if s.message.delivery_id == message.delivery_id)
        stored.status, stored.last_error = attempt.status, attempt.last_error
        stored.message = PendingMessage(
            **{**vars(message), "attempts": attempt.attempts, "first_attempt_at": attempt.first_attempt_at,
               "next_attempt_at": attempt.next_attempt_at or message.next_attempt_at},
        )  # fmt: skip

    async def purge_finished_chunk(self, cutoff: datetime, limit: int) -> Purged:
        return self.purge_chunks.pop(0) if self.purge_chunks else Purged()

    def status_of(self, receiver: str) -> list[str]:
        return [s.status for s in self.messages if s.message.receiver == receiver]


class FakePlanning:
    def __init__(self, store: FakeOutboxStore, receiver: str) -> None:
        self.store = store
        self.receiver = receiver

    async def waiting(self) -> list[Waiting]:
        return list(self.store.waiting.get(self.receiver, []))

    async def flushed(self) -> dict[str, datetime]:
        return {key: at for (receiver, key), at in self.store.flushes.items() if receiver == self.receiver}

    async def store_message(self, message: NewMessage) -> None:
        m = message
        pending = PendingMessage(m.receiver, m.delivery_id, m.group_key, m.channel, m.payload, m.recipients,
                                 m.notification_ids, 0, None, m.created_at)  # fmt: skip
        self.store.messages.append(StoredMessage(pending))
        consumed = set(m.notification_ids)
        self.store.waiting[self.receiver] = [
            w for w in self.store.waiting.get(self.receiver, []) if w.notification.id not in consumed
        ]

    async def record_flush(self, group_key: str, flushed_at: datetime) -> None:
        self.store.flushes[(self.receiver, group_key)] = flushed_at


@dataclass
class FakeTransport:
    """Answers the scripted results in order (then `delivered`), and remembers what it was asked to send."""

    results: list[SendResult] = field(default_factory=list)
    sent: list[tuple[str, PendingMessage]] = field(default_factory=list)

    async def send(self, receivers: Receivers, receiver: AnyReceiver, message: PendingMessage) -> SendResult:
        self.sent.append((receiver.name, message))
        return self.results.pop(0) if self.results else SendResult("delivered", "HTTP 200")


# --- near-due source and API receivers ------------------------------------------------------------------------


@dataclass
class FakeNearDueSource:
    lists: dict[str, UnitNearDue] = field(default_factory=dict)  # a unit missing here: scoring did not answer
    asked: list[tuple[str, timedelta]] = field(default_factory=list)

    async def near_due(self, unit: UnitLive, horizon: timedelta) -> UnitNearDue | None:
        self.asked.append((unit.unit_id, horizon))
        return self.lists.get(unit.unit_id)


@dataclass
class FakeForecastSource:
    levels: dict[str, list[UnitForecast]] = field(default_factory=dict)  # a level missing: scoring did not answer
    asked: list[str] = field(default_factory=list)

    async def forecasts(self, level: str) -> list[UnitForecast] | None:
        self.asked.append(level)
        return self.levels.get(level)


@dataclass
class FakeTodoSource:
    lists: dict[str, TodoList] = field(default_factory=dict)  # a unit missing here: scoring did not answer
    asked: list[tuple[str, int]] = field(default_factory=list)

    async def todo(self, unit_id: str, limit: int) -> TodoList | None:
        self.asked.append((unit_id, limit))
        return self.lists.get(unit_id)


@dataclass
class FakeDigestOutbox:
    """The outbox's (receiver, delivery id) key; `messages` shared by as many "processes" as use it."""

    messages: dict[tuple[str, str], NewMessage] = field(default_factory=dict)

    async def queued(self, delivery_ids: Sequence[str]) -> set[str]:
        return {d for _, d in self.messages if d in delivery_ids}

    async def queue(self, message: NewMessage) -> bool:
        key = (message.receiver, message.delivery_id)
        if key in self.messages:
            return False
        self.messages[key] = message
        return True


@dataclass
class FakeApiReceivers:
    loaded: ApiReceivers | None = None
    forced: list[bool] = field(default_factory=list)

    async def load(self, *, force: bool = False) -> ApiReceivers | None:
        self.forced.append(force)
        loaded, self.loaded = self.loaded, None
        return loaded
