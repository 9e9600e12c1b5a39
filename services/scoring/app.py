"""Composition root of the scoring service: connections, the stream consumer, the publisher and the API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import asyncpg
import httpx
from fastapi import FastAPI

from services.scoring.adapters.dossier_queries import PgDossiers
from services.scoring.adapters.figures_notify import FiguresListener
from services.scoring.adapters.kafka_indicators import KafkaIndicatorsSink
from services.scoring.adapters.metrics import METRICS
from services.scoring.adapters.profile_file import ProfileStore
from services.scoring.adapters.queries import PgDeadLetters, PgFigures
from services.scoring.adapters.units import UnitDirectory
from services.scoring.applier import BatchApplier, DeadLetter
from services.scoring.bootstrap import Container
from services.scoring.entrypoints.actions_api import build_actions_router
from services.scoring.entrypoints.api import build_router
from services.scoring.entrypoints.consumer import register_consumer
from services.scoring.entrypoints.dashboard import build_dashboard_router
from services.scoring.entrypoints.stream import Broadcaster, build_stream_router, register_indicators_relay
from services.scoring.service.actions import ActionsReader
from services.scoring.service.publisher import IndicatorsPublisher
from services.scoring.service.reading import ScoringReader
from services.scoring.settings import ScoringSettings
from shared.bootstrap import publish_container, withdraw_container
from shared.http import install_error_handlers, install_health_routes, install_standard_openapi
from shared.identity import Identity, PeerIdentity, with_identity_checks
from shared.kafka import make_broker
from shared.kafka_logs import install_kafka_log_gate
from shared.outages import (
    PoolLogGate,
    database_watch,
    install_database_outage_handler,
    is_database_outage,
    tracked_checks,
    unreachable_details,
)
from shared.resources import open_resources, readiness_of

log = logging.getLogger(__name__)
ROLL_OVER_CHECK_S = 60.0
# How soon a registry change (a renamed, moved, merged or retired unit) reaches this process's figures; a batch that
# names a unit this process does not know yet reads the registry at once (adapters/units.py).
REGISTRY_SYNC_S = 2.0
# How often pending dead letters (records that named a unit before it was registered) are checked for a unit that
# now exists, and applied (SPEC §1: exactly once, automatically).
REDRIVE_PENDING_S = 1.0
# The dead-letter topic gets at most this much of a record's value (the table keeps it whole, and the full bytes
# stay in the source topic at the offset the headers name): any record the source topic can hold can be
# dead-lettered, whatever the producer's or the DLQ topic's size limits (issue 12).
DLQ_TOPIC_MAX_VALUE = 256 * 1024


def create_app(settings: ScoringSettings) -> FastAPI:
    install_kafka_log_gate()
    broker = make_broker(settings.kafka_bootstrap_servers, client_id="tthc-scoring")
    dlq_publisher = broker.publisher(settings.dlq_topic, title="scoring/dossier-events-dlq",
                                     description="Records of dossier-events that broke the contract")  # fmt: skip
    indicators_publisher = broker.publisher(
        settings.indicators_topic,
        title="scoring/unit-indicators",
        description="One unit's current-month figures (shared/indicators.py)",
    )
    parts: dict[str, Container] = {}

    async def publish_dead_letters(letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            record, rejection = letter.record, letter.rejection
            value = record.value or b""
            headers = {
                "x-error": str(rejection.error),
                "x-detail": rejection.detail[:4096],
                "x-source": f"{record.topic}/{record.partition}/{record.offset}",
                "x-original-size": str(len(value)),
            }
            if len(value) > DLQ_TOPIC_MAX_VALUE:
                headers["x-truncated"] = "true"
                value = value[:DLQ_TOPIC_MAX_VALUE]
            key = record.key if record.key is None or len(record.key) <= 4096 else record.key[:4096]
            await dlq_publisher.publish(value, key=key, headers=headers)

    broadcaster = Broadcaster()

    async def build(pool: asyncpg.Pool) -> None:
        directory = UnitDirectory(pool)
        await directory.load()
        reader = ScoringReader(
            PgFigures(pool),
            directory,
            ProfileStore(settings.profile_path),
            ranking_ttl_s=settings.read_cache_ttl_s,
            live_tick_s=settings.live_tick_s,
        )
        applier = BatchApplier(pool, directory, publish_dead_letters)
        sink = KafkaIndicatorsSink(indicators_publisher)
        publisher = IndicatorsPublisher(reader, sink, METRICS, settings.indicators_interval_s)
        dossiers = PgDossiers(pool)
        parts["c"] = Container(settings, pool, directory, applier, reader, publisher, ActionsReader(reader, dossiers),
                               dossiers, PgDeadLetters(pool))  # fmt: skip

    register_consumer(broker, settings, lambda: parts["c"].applier, lambda: parts["c"].publisher)
    register_indicators_relay(broker, settings.indicators_topic, broadcaster)

    recovery = database_watch(
        lambda: getattr(getattr(app.state, "resources", None), "pool", None),
        on_failure=METRICS.database_errors.inc,
        on_change=lambda up: METRICS.database_unreachable.set(0 if up else 1),
    )
    database = recovery.state

    async def every(interval_s: float, what: str, step: Callable[[Container], Awaitable[None]]) -> None:
        """Run a background step forever; a database outage is one log line per change, not one per step."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await step(parts["c"])
            except Exception as error:
                if is_database_outage(error):
                    database.failed(error)
                    recovery.ensure_running()
                else:
                    log.exception("%s failed; will retry", what)

    async def roll_over(components: Container) -> None:
        rolled = await components.applier.roll_over_open_dossiers()
        if rolled:
            log.info("rolled %d open dossiers into the new month", rolled)

    async def follow_registry(components: Container) -> None:
        if await components.reader.directory.load():
            components.reader.figures_changed()  # names, the tree and successors may all have changed
            components.publisher.mark(unit.unit_id for unit in components.reader.directory.registry)

    async def redrive_pending(components: Container) -> None:
        report = await components.applier.redrive(pending_only=True)
        if report.applied:
            components.publisher.mark(report.touched_units, report.months)

    # The dashboard's browser is sent to ALERTS_PUBLIC_URL: the alerts of THIS stack must answer there.
    alerts_peer = PeerIdentity(
        "alerts",
        settings.alerts_public_url,
        Identity("alerts", settings.stack_id),
        on_change=lambda ok: METRICS.alerts_identity_mismatch.set(0 if ok else 1),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_resources(settings, broker, before_broker_start=build) as resources,
            PoolLogGate(recovery),
        ):
            app.state.resources = resources
            components = parts["c"]
            publish_container(app, components)
            components.publisher.start()
            listener = FiguresListener(settings.database_url, components.reader.figures_changed)
            listener.start()
            peers = httpx.AsyncClient(headers={"User-Agent": "tthc-pulse-scoring"})
            tasks = [
                asyncio.create_task(alerts_peer.watch(peers, settings.alerts_check_interval_s), name="alerts-identity"),
                asyncio.create_task(components.reader.warm_up(), name="read-tables-warm-up"),
                asyncio.create_task(every(ROLL_OVER_CHECK_S, "month roll-over", roll_over), name="month-roll-over"),
                asyncio.create_task(every(REGISTRY_SYNC_S, "reading the registry", follow_registry),
                                    name="registry-follower"),
                asyncio.create_task(every(REDRIVE_PENDING_S, "re-applying pending dead letters", redrive_pending),
                                    name="pending-dead-letters"),
            ]  # fmt: skip
            try:
                yield
            finally:
                withdraw_container(app)
                await recovery.stop()
                await listener.stop()
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                await peers.aclose()
                await components.publisher.stop()

    app = FastAPI(
        title="TTHC Pulse — scoring",
        description="Chỉ số phục vụ người dân, doanh nghiệp theo đơn vị / Live per-unit indicators and the 766 score",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_database_outage_handler(app, recovery, retry_after_s=settings.retry_after_s)
    install_health_routes(
        app,
        lambda: with_identity_checks(tracked_checks(readiness_of(app), {"database": database}), [alerts_peer]),
        lambda: {**unreachable_details({"database": database}), **alerts_peer.detail()},
        identity=Identity("scoring", settings.stack_id),
    )
    app.include_router(build_router(METRICS.render))
    app.include_router(build_actions_router())
    app.include_router(build_stream_router(broadcaster))
    app.include_router(build_dashboard_router(settings))
    install_standard_openapi(app)
    return app
