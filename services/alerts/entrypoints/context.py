"""What the routes, the subscriber and the background loops share; filled in by the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.alerts.adapters.evaluation import Evaluator
from services.alerts.adapters.metrics import AlertMetrics
from services.alerts.adapters.receiver_secrets import SecretBox
from services.alerts.adapters.receiver_store import ApiReceiversFollower
from services.alerts.adapters.receivers import Receivers
from services.alerts.adapters.rule_store import RuleBook
from services.alerts.settings import AlertsSettings
from shared.identity import Identity, PeerIdentity
from shared.outages import DependencyState, RecoveryWatch

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class Signal:
    """Wake every waiter once (new history rows, new outbox rows); a waiter that misses it wakes on timeout."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout_s: float) -> None:
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout_s)


@dataclass
class AlertsContext:
    settings: AlertsSettings
    receivers: Receivers
    clock: Clock = system_clock
    metrics: AlertMetrics = field(default_factory=AlertMetrics)
    changed: Signal = field(default_factory=Signal)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    pool: asyncpg.Pool | None = None
    rule_book: RuleBook | None = None
    evaluator: Evaluator | None = None
    database: DependencyState = field(init=False)
    scoring: DependencyState = field(init=False)
    scoring_peer: PeerIdentity = field(init=False)  # is SCORING_URL this stack's scoring? (shared.identity)
    recovery: RecoveryWatch | None = None  # watches the database back after an outage (set by the app)
    dispatcher: Any = None  # adapters.outbox.Dispatcher, set by the lifespan
    secret_box: SecretBox | None = None  # None while RECEIVERS_SECRET_KEY is unset
    follower: ApiReceiversFollower = field(default_factory=lambda: ApiReceiversFollower(None))

    def __post_init__(self) -> None:
        # Dependency states move the gauges and failure counters of this context's metrics.
        metrics = self.metrics
        self.database = DependencyState(
            "PostgreSQL",
            on_failure=metrics.database_errors.inc,
            on_change=lambda up: metrics.database_unreachable.set(0 if up else 1),
        )
        self.scoring = DependencyState(
            "scoring",
            on_failure=metrics.scoring_fetch_failures.inc,
            on_change=lambda up: metrics.scoring_unreachable.set(0 if up else 1),
        )
        self.scoring_peer = PeerIdentity(
            "scoring",
            str(self.settings.scoring_url),
            Identity("scoring", self.settings.stack_id),
            on_change=lambda ok: metrics.scoring_identity_mismatch.set(0 if ok else 1),
        )

    def apply_receivers(self, fresh: Receivers) -> None:
        """Every holder switches at once (between awaits): routing of new notifications, planning, sending."""
        self.receivers = fresh
        if self.evaluator is not None:
            self.evaluator.receivers = fresh
        if self.dispatcher is not None:
            self.dispatcher.receivers = fresh
        self.changed.fire()  # waiting rows of a receiver just (re)added are planned now

    async def follow_api_receivers(self, *, force: bool = False) -> bool:
        """Re-read the receivers managed through the API (all processes poll; the one that wrote forces)."""
        async with self.db().acquire() as conn:
            loaded = await self.follower.load(conn, force=force)
        if loaded is None:
            return False
        self.apply_receivers(self.receivers.with_api(loaded.receivers, loaded.secrets))
        return True

    async def ready_evaluator(self) -> Evaluator:
        await self.started.wait()
        assert self.evaluator is not None
        return self.evaluator

    def database_failed(self, error: BaseException) -> None:
        """A database outage seen by a loop or a route: counted, logged once, watched until it ends."""
        self.database.failed(error)
        if self.recovery is not None:
            self.recovery.ensure_running()

    def db(self) -> asyncpg.Pool:
        assert self.pool is not None, "the lifespan has not opened the pool"
        return self.pool

    def rules(self) -> RuleBook:
        assert self.rule_book is not None, "the lifespan has not loaded the rules"
        return self.rule_book
