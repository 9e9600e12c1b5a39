"""The alerts service's one container: its use cases and the adapters they run on, built in the lifespan.

`AlertsHealth` exists before the container (the health routes and the outage handler are installed with the app);
everything that needs the pool is built by `build_container`, before the broker starts consuming, so the
subscriber never sees a half-built container (shared/bootstrap.py publishes it).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from services.alerts.adapters.alert_store import PgAlertStore
from services.alerts.adapters.metrics import AlertMetrics
from services.alerts.adapters.outbox_store import PgOutboxStore
from services.alerts.adapters.queries import PgAlertQueries
from services.alerts.adapters.receiver_secrets import SecretBox
from services.alerts.adapters.receiver_store import PgReceiverStore
from services.alerts.adapters.receivers_reload import ReceiversWatcher
from services.alerts.adapters.scoring_client import ScoringForecasts, ScoringNearDue, ScoringTodo
from services.alerts.adapters.transports import HttpSmtpTransport
from services.alerts.domain.receivers import Receivers
from services.alerts.domain.retention import RetentionPolicy
from services.alerts.domain.todo_digest import DigestSchedule
from services.alerts.service.activation import activate_at_start
from services.alerts.service.changes import Signal
from services.alerts.service.evaluation import Evaluator
from services.alerts.service.forecast import ForecastPass
from services.alerts.service.near_due import NearDuePass
from services.alerts.service.outbox import Dispatcher
from services.alerts.service.ports import Clock
from services.alerts.service.receivers import ReceiverRegistry
from services.alerts.service.retention import OutboxRetention
from services.alerts.service.rule_book import RuleBook
from services.alerts.service.silences import Silences
from services.alerts.service.todo_digest import MorningDigest
from services.alerts.settings import AlertsSettings
from shared.identity import Identity, PeerIdentity
from shared.outages import DependencyState, Probe, RecoveryWatch

log = logging.getLogger(__name__)


def system_clock() -> datetime:
    return datetime.now(UTC)


class AlertsHealth:
    """PostgreSQL and scoring as the service sees them; every state moves the gauges and counters of `metrics`."""

    def __init__(self, settings: AlertsSettings, metrics: AlertMetrics, database_probe: Probe) -> None:
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
        # Is SCORING_URL this stack's scoring? (shared.identity)
        self.scoring_peer = PeerIdentity(
            "scoring",
            str(settings.scoring_url),
            Identity("scoring", settings.stack_id),
            on_change=lambda ok: metrics.scoring_identity_mismatch.set(0 if ok else 1),
        )
        self.recovery = RecoveryWatch(self.database, database_probe)  # watches the database back after an outage

    def database_failed(self, error: BaseException) -> None:
        """A database outage seen by a loop or a route: counted, logged once, watched until it ends."""
        self.database.failed(error)
        self.recovery.ensure_running()


@dataclass
class Container:
    settings: AlertsSettings
    clock: Clock
    metrics: AlertMetrics
    health: AlertsHealth
    changed: Signal  # new history or outbox rows: wakes the sender and the event streams
    pool: asyncpg.Pool
    rule_book: RuleBook
    receivers: ReceiverRegistry
    receiver_store: PgReceiverStore
    watcher: ReceiversWatcher | None  # None when the receivers are not read from a file
    queries: PgAlertQueries
    silences: Silences
    evaluator: Evaluator
    dispatcher: Dispatcher
    near_due: NearDuePass
    forecast: ForecastPass
    digest: MorningDigest
    retention: OutboxRetention
    scoring_http: httpx.AsyncClient


@dataclass(frozen=True)
class Configured:
    """What `create_app` read and checked before any connection (a bad file stops the process at start)."""

    settings: AlertsSettings
    clock: Clock
    metrics: AlertMetrics
    health: AlertsHealth
    receivers: Receivers
    watcher: ReceiversWatcher | None
    secret_box: SecretBox | None


async def build_container(
    configured: Configured, pool: asyncpg.Pool, webhooks: httpx.AsyncClient, scoring: httpx.AsyncClient
) -> Container:
    settings, clock, metrics = configured.settings, configured.clock, configured.metrics
    changed = Signal()

    def on_commit(transitions: int, notifications: int) -> None:
        metrics.transitions.inc(transitions)
        if transitions or notifications:
            changed.fire()

    receivers = ReceiverRegistry(configured.receivers, on_change=changed.fire)
    receiver_store = PgReceiverStore(pool, configured.secret_box)
    # Receivers managed through the API; a stored secret that cannot be decrypted stops the start here.
    await receivers.follow_api(receiver_store, force=True)
    store, queries = PgAlertStore(pool), PgAlertQueries(pool)
    path = settings.alert_rules_file
    text = await asyncio.to_thread(path.read_text, "utf-8")
    active = await activate_at_start(store, text, str(path), receivers.current, clock, on_commit)
    log.info("rule set %d active (%s, %d rules)", active.rule_set_id, active.source, len(active.rules.rules))
    rule_book = RuleBook(active)
    evaluator = Evaluator(store, rule_book, receivers, clock, on_commit)
    dispatcher = Dispatcher(
        PgOutboxStore(pool), HttpSmtpTransport(webhooks), receivers, clock, str(settings.dashboard_public_url),
        metrics.record_outcome,
    )  # fmt: skip
    near_due_source = ScoringNearDue(scoring, configured.health.scoring, metrics.near_due_fetch_errors.inc)
    retention = RetentionPolicy(max_age=timedelta(days=settings.outbox_retention_days))
    health = configured.health
    forecasts = ScoringForecasts(scoring, health.scoring, metrics.scoring_read_errors.labels(read="forecasts").inc)
    todo = ScoringTodo(scoring, health.scoring, metrics.scoring_read_errors.labels(read="todo").inc)
    hour, minute = (int(part) for part in settings.todo_digest_at.split(":"))
    schedule = DigestSchedule(
        time(hour, minute), ZoneInfo(settings.todo_digest_timezone), timedelta(seconds=settings.todo_digest_window_s)
    )

    def digests_queued(count: int) -> None:
        metrics.digests_queued.inc(count)
        changed.fire()  # wakes the sender

    digest = MorningDigest(
        store, PgOutboxStore(pool), todo, receivers, clock, schedule, str(settings.dashboard_public_url),
        settings.todo_digest_max_items, digests_queued,
    )  # fmt: skip
    return Container(
        settings=settings,
        clock=clock,
        metrics=metrics,
        health=configured.health,
        changed=changed,
        pool=pool,
        rule_book=rule_book,
        receivers=receivers,
        receiver_store=receiver_store,
        watcher=configured.watcher,
        queries=queries,
        silences=Silences(queries, clock),
        evaluator=evaluator,
        dispatcher=dispatcher,
        near_due=NearDuePass(store, near_due_source, evaluator),
        forecast=ForecastPass(store, forecasts, evaluator),
        digest=digest,
        retention=OutboxRetention(PgOutboxStore(pool), retention, clock),
        scoring_http=scoring,
    )
