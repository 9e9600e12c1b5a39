"""Composition root of the scoring service: settings → broker → subscribers → lifespan (container, timers) → API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
import httpx
from fastapi import FastAPI

from services.scoring.adapters.figures_notify import FiguresListener
from services.scoring.adapters.kafka_publishers import KafkaDeadLetterPublisher, KafkaIndicatorsPublisher
from services.scoring.adapters.metrics import METRICS
from services.scoring.bootstrap import Container, Outlets, build_container
from services.scoring.entrypoints.actions_api import build_actions_router
from services.scoring.entrypoints.api import build_router
from services.scoring.entrypoints.background import Timers
from services.scoring.entrypoints.consumer import register_consumer
from services.scoring.entrypoints.dashboard import build_dashboard_router
from services.scoring.entrypoints.read_bodies import ReadBodies
from services.scoring.entrypoints.ready_responses import FastReads, ReadyResponses, Token
from services.scoring.entrypoints.stream import Broadcaster, build_stream_router, register_indicators_relay
from services.scoring.settings import APPLYING_ROLES, ScoringSettings
from shared.bootstrap import container_of, publish_container, withdraw_container
from shared.http import (
    NO_OPENTELEMETRY,
    ApiError,
    install_error_handlers,
    install_health_routes,
    install_standard_openapi,
)
from shared.identity import Identity, PeerIdentity, with_identity_checks
from shared.kafka import make_broker
from shared.kafka_logs import install_kafka_log_gate
from shared.outages import (
    PoolLogGate,
    database_watch,
    install_database_outage_handler,
    tracked_checks,
    unreachable_details,
)
from shared.resources import open_resources, readiness_of

log = logging.getLogger(__name__)
GAUGES_REFRESH_TIMEOUT_S = 2.0
"""A scrape never waits longer than this for the per-unit gauges (a cold read table during an outage)."""


def create_app(settings: ScoringSettings) -> FastAPI:
    install_kafka_log_gate()
    broker = make_broker(settings.kafka_bootstrap_servers, client_id="tthc-scoring")
    dlq = broker.publisher(settings.dlq_topic, title="scoring/dossier-events-dlq",
                           description="Records of dossier-events that broke the contract")  # fmt: skip
    indicators = broker.publisher(settings.indicators_topic, title="scoring/unit-indicators",
                                  description="One unit's current-month figures (shared/indicators.py)")  # fmt: skip
    outlets = Outlets(KafkaDeadLetterPublisher(dlq), KafkaIndicatorsPublisher(indicators))
    broadcaster = Broadcaster()
    if settings.scoring_role in APPLYING_ROLES:  # an `api` process never applies: its readers never wait on a batch
        register_consumer(broker, settings)
    register_indicators_relay(broker, settings.indicators_topic, broadcaster)

    def container() -> Container:
        return container_of(app, Container)

    gauges_failing = False  # logged once per change of state, not on every scrape of an outage

    async def render_metrics() -> bytes:
        """The process's own metrics, and the per-unit gauges of every unit from the shared read tables."""
        nonlocal gauges_failing
        try:
            async with asyncio.timeout(GAUGES_REFRESH_TIMEOUT_S):
                await container().gauges.refresh()
        except ApiError:
            pass  # still starting: the process metrics alone
        except Exception as error:  # PostgreSQL away or slow: the last gauges stay, database_unreachable says why
            if not gauges_failing:
                log.warning("per-unit gauges not refreshed, the last ones are served: %r", error)
            gauges_failing = True
        else:
            if gauges_failing:
                log.info("per-unit gauges refreshed again")
            gauges_failing = False
        return METRICS.render()

    recovery = database_watch(
        lambda: getattr(getattr(app.state, "resources", None), "pool", None),
        on_failure=METRICS.database_errors.inc,
        on_change=lambda up: METRICS.database_unreachable.set(0 if up else 1),
    )
    database = recovery.state
    # The dashboard's browser is sent to ALERTS_PUBLIC_URL: the alerts of THIS stack must answer there.
    alerts_peer = PeerIdentity(
        "alerts",
        settings.alerts_public_url,
        Identity("alerts", settings.stack_id),
        on_change=lambda ok: METRICS.alerts_identity_mismatch.set(0 if ok else 1),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def build(pool: asyncpg.Pool) -> None:  # before the broker starts: no batch arrives before it
            publish_container(app, await build_container(settings, pool, outlets), broker)

        try:
            async with open_resources(settings, broker, before_broker_start=build) as resources, PoolLogGate(recovery):
                app.state.resources = resources
                METRICS.gc_pauses.install()  # the collector's pauses, for the read path's tail (gc_pauses.py)
                built = container()
                bodies.tell(built.reader)  # a body rebuilt in the background changes the readers' token
                built.publisher.start()
                listener = FiguresListener(settings.database_url, built.reader.figures_changed)
                listener.start()
                peers = httpx.AsyncClient(headers={"User-Agent": "tthc-pulse-scoring"})
                tasks = [
                    asyncio.create_task(
                        alerts_peer.watch(peers, settings.alerts_check_interval_s), name="alerts-identity"
                    ),
                    *Timers(built, database, recovery.ensure_running).start(),
                ]
                try:
                    yield
                finally:
                    await recovery.stop()
                    await listener.stop()
                    for task in tasks:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                    await peers.aclose()
                    await built.publisher.stop()
                    METRICS.gc_pauses.uninstall()
        finally:  # once the broker has stopped: a batch in flight until then still finds the container
            withdraw_container(app, broker)

    app = FastAPI(
        telemetry=NO_OPENTELEMETRY,
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
    ready, bodies = ReadyResponses(), ReadBodies()
    app.include_router(build_router(render_metrics, ready, bodies))
    app.include_router(build_actions_router(ready, bodies))
    app.include_router(build_stream_router(broadcaster))
    app.include_router(build_dashboard_router(settings))
    install_standard_openapi(app)

    def token_now() -> Token | None:
        built = getattr(app.state, "container", None)
        return built.reader.token() if isinstance(built, Container) else None

    # Reads whose answer is known are answered before the framework's routing (entrypoints/ready_responses.py).
    app.add_middleware(FastReads, ready=ready, token_now=token_now)
    return app
