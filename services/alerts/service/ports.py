"""The interfaces the alerts use cases run on; PostgreSQL, HTTP and SMTP implement them in `adapters/`.

Each use case declares the little it needs (a session of the alert store, the outbox store, a transport, a
clock), so the unit tests hand it plain fakes instead of a database, a web server or a mail server.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from services.alerts.domain.backoff import DeliveryOutcome
from services.alerts.domain.forecasts import UnitForecast
from services.alerts.domain.notifications import Notification
from services.alerts.domain.receivers import AlertmanagerReceiver, AnyReceiver, Receivers, WebhookReceiver
from services.alerts.domain.retention import Purged
from services.alerts.domain.rules import Rule, RuleSet
from services.alerts.domain.silences import Silence
from services.alerts.domain.state import AlertState, Transition
from services.alerts.domain.todo_digest import TodoList
from shared.indicators import UnitIndicators, UnitNearDue

Clock = Callable[[], datetime]
# (transitions, notifications) written by a committed step: moves the metrics and wakes the sender and streams.
OnCommit = Callable[[int, int], None]


# --- rule sets -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActiveRules:
    rules: RuleSet
    rule_set_id: int
    source: Literal["file", "api"]
    origin: str
    activated_at: datetime


class RuleSetReader(Protocol):
    async def newer_rule_set(self, than_id: int) -> ActiveRules | None:
        """The newest stored set when its id is greater than `than_id`, else None."""
        ...


class RuleSetWriter(RuleSetReader, Protocol):
    async def tables_exist(self) -> bool: ...

    async def newest_rule_set(self, parsed_body: str, parsed: RuleSet) -> ActiveRules | None:
        """The newest stored set (None: none yet); `parsed` is reused when its body is `parsed_body`."""
        ...

    async def file_version_seen(self, body: str) -> bool: ...

    async def insert_rule_set(
        self, rules: RuleSet, source: Literal["file", "api"], origin: str, body: str
    ) -> ActiveRules: ...

    async def last_definitions(self, rule_ids: Collection[str], before_id: int) -> dict[str, Rule]:
        """Each rule as it was last in force, from the newest set older than `before_id` that still has it."""
        ...


# --- alert state -----------------------------------------------------------------------------------------------


class AlertSession(RuleSetWriter, Protocol):
    """One transaction under the evaluation lock: every writer of alert state takes it, so evaluations never
    interleave and history sequence numbers are committed in order."""

    async def active_silences(self, now: datetime) -> list[Silence]: ...

    async def states_of_units(self, unit_ids: Sequence[str]) -> dict[str, dict[str, AlertState]]: ...

    async def live_states(self) -> list[AlertState]:
        """Every pending or firing state."""
        ...

    async def live_states_of_other_rules(self, rule_ids: Sequence[str]) -> dict[int, AlertState]:
        """Pending or firing states (by alert id) of rules not in `rule_ids`."""
        ...

    async def last_notification(self, alert_id: int) -> Notification | None: ...

    async def alert_state(self, alert_id: int) -> AlertState | None: ...

    async def remember_live(self, message: UnitIndicators) -> None:
        """Keep the unit's live figures (the near-due pass asks scoring only about units that may need it)."""
        ...

    async def save_state(self, state: AlertState, now: datetime) -> int:
        """Upsert the state; returns its alert id."""
        ...

    async def insert_transition(self, alert_id: int, transition: Transition, comment: str | None = None) -> None: ...

    async def insert_notification(
        self, alert_id: int, notification: Notification, subtree: list[str], now: datetime
    ) -> bool:
        """False when it already exists (the same step already ran and committed, with its outbox rows)."""
        ...

    async def enqueue(self, notification_id: str, receivers: Sequence[str], now: datetime) -> None: ...


class AlertStore(Protocol):
    def session(self) -> AbstractAsyncContextManager[AlertSession]: ...


@dataclass(frozen=True)
class UnitLive:
    """What the near-due pass knows of a unit from its last `unit-indicators` message."""

    unit_id: str
    name: str
    level: str
    ancestors: list[str]
    open: int
    due_soon: int


class NearDueReader(RuleSetReader, Protocol):
    async def units_live(self) -> list[UnitLive]: ...

    async def units_with_live_alerts(self, rule_ids: Sequence[str]) -> set[str]:
        """Units with a pending or firing alert of one of these rules."""
        ...


class NearDueStore(Protocol):
    def reader(self) -> AbstractAsyncContextManager[NearDueReader]: ...


class NearDueSource(Protocol):
    async def near_due(self, unit: UnitLive, horizon: timedelta) -> UnitNearDue | None:
        """The unit's own open dossiers due within the horizon; None when scoring did not answer (counted)."""
        ...


class RuleSetReaders(Protocol):
    """Where a pass outside the evaluation lock reads the newest rule set from (the near-due store does)."""

    def reader(self) -> AbstractAsyncContextManager[RuleSetReader]: ...


class ForecastSource(Protocol):
    async def forecasts(self, level: str) -> list[UnitForecast] | None:
        """Month-end forecasts of every unit of the level; None when scoring did not answer (counted)."""
        ...


# --- receivers of the admin API --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiReceivers:
    receivers: tuple[WebhookReceiver | AlertmanagerReceiver, ...]
    secrets: dict[str, str]


# --- outbox ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrozenMessage:
    """One rendered group message, frozen in the outbox before any attempt: every retry sends these bytes."""

    receiver: str
    delivery_id: str
    group_key: str
    channel: str
    payload: bytes
    recipients: list[str]
    notification_ids: list[str]


@dataclass(frozen=True)
class NewMessage(FrozenMessage):
    created_at: datetime


@dataclass(frozen=True)
class PendingMessage(FrozenMessage):
    attempts: int
    first_attempt_at: datetime | None
    next_attempt_at: datetime


DeliveryStatus = Literal["pending", "delivered", "dead"]


@dataclass(frozen=True)
class Attempt:
    """What one send changed: the message's status and retry bookkeeping."""

    status: DeliveryStatus
    attempts: int
    first_attempt_at: datetime
    next_attempt_at: datetime | None
    last_error: str | None
    at: datetime


@dataclass(frozen=True)
class Waiting:
    notification: Notification
    subtree: list[str]


class PlanningSession(Protocol):
    """One receiver's planning, in one transaction under the planning lock."""

    async def waiting(self) -> list[Waiting]: ...

    async def flushed(self) -> dict[str, datetime]: ...

    async def store_message(self, message: NewMessage) -> None:
        """Store the message and mark the notifications it consumed."""
        ...

    async def record_flush(self, group_key: str, flushed_at: datetime) -> None: ...


class OutboxStore(Protocol):
    def planning(self, receiver: str) -> AbstractAsyncContextManager[PlanningSession]: ...

    async def pending_heads(self) -> list[PendingMessage]:
        """The oldest pending message of every (receiver, group): later ones wait for it."""
        ...

    async def record_attempt(self, message: PendingMessage, attempt: Attempt) -> None: ...

    async def purge_finished_chunk(self, cutoff: datetime, limit: int) -> Purged: ...


@dataclass(frozen=True)
class SendResult:
    outcome: DeliveryOutcome
    detail: str
    retry_after_s: float | None = None


class DigestOutbox(Protocol):
    """The outbox as the morning digest writes to it: whole messages, no notifications."""

    async def queued(self, delivery_ids: Sequence[str]) -> set[str]:
        """Those of these delivery ids that already have a message (any receiver, any status)."""
        ...

    async def queue(self, message: NewMessage) -> bool:
        """Store the message unless its (receiver, delivery id) exists; True when it was stored."""
        ...


class TodoSource(Protocol):
    async def todo(self, unit_id: str, limit: int) -> TodoList | None:
        """The first `limit` entries of the unit's to-do; None when scoring did not answer (counted)."""
        ...


class Transport(Protocol):
    async def send(self, receivers: Receivers, receiver: AnyReceiver, message: PendingMessage) -> SendResult: ...
