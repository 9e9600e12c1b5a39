"""Composition root of the alerts service: settings → broker → subscriber → lifespan (container) → routes.

Configuration files (rules, receivers and their secrets) are read and validated in `create_app`, before any
connection: a bad file or a missing secret stops the process at start with a precise message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from services.alerts.adapters.metrics import AlertMetrics
from services.alerts.adapters.receiver_secrets import SecretBox
from services.alerts.adapters.receivers_reload import ReceiversWatcher
from services.alerts.bootstrap import AlertsHealth, Configured, build_container, system_clock
from services.alerts.domain.receivers import Receivers
from services.alerts.domain.rule_documents import load_rules
from services.alerts.entrypoints import api, receivers_api, stream
from services.alerts.entrypoints.loops import start_loops
from services.alerts.entrypoints.subscriber import register_indicators_subscriber
from services.alerts.service.ports import Clock
from services.alerts.settings import AlertsSettings
from shared.bootstrap import publish_container, withdraw_container
from shared.http import NO_OPENTELEMETRY, install_error_handlers, install_health_routes, install_standard_openapi
from shared.identity import Identity, with_identity_checks
from shared.kafka import make_broker
from shared.kafka_logs import install_kafka_log_gate
from shared.outages import (
    PoolLogGate,
    Probe,
    install_database_outage_handler,
    pool_probe,
    tracked_checks,
    unreachable_details,
)
from shared.resources import open_resources, readiness_of


def _pool_of(app: FastAPI) -> asyncpg.Pool | None:
    container = getattr(app.state, "container", None)
    return container.pool if container is not None else None


def configure(settings: AlertsSettings, clock: Clock, receivers: Receivers | None, database_probe: Probe) -> Configured:
    """Read and check the files; receivers read from RECEIVERS_FILE are re-read when the file changes (a watcher),
    receivers given here are fixed."""
    load_rules(settings.alert_rules_file.read_text("utf-8"), source=str(settings.alert_rules_file))
    watcher: ReceiversWatcher | None = None
    if receivers is None and settings.receivers_file is not None:
        watcher = ReceiversWatcher.for_file(settings.receivers_file)
        receivers = watcher.current
    key = settings.receivers_secret_key
    metrics = AlertMetrics()
    return Configured(
        settings=settings,
        clock=clock,
        metrics=metrics,
        health=AlertsHealth(settings, metrics, database_probe),
        receivers=receivers if receivers is not None else Receivers(),
        watcher=watcher,
        secret_box=SecretBox(key.get_secret_value()) if key is not None else None,
    )


def create_app(settings: AlertsSettings, *, clock: Clock = system_clock, receivers: Receivers | None = None) -> FastAPI:
    """`clock` and `receivers` are for tests (a clock they can advance); production reads both from settings."""
    # The recovery probe reads the pool of the container in force (none before the lifespan built it).
    configured = configure(settings, clock, receivers, pool_probe(lambda: _pool_of(app)))
    health = configured.health
    install_kafka_log_gate()
    broker = make_broker(settings.kafka_bootstrap_servers, client_id="tthc-alerts")
    register_indicators_subscriber(broker, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def before_broker_start(pool: asyncpg.Pool) -> None:
            # Built (API receivers read, rules activated) before the subscriber gets its first message.
            publish_container(app, await build_container(configured, pool, webhooks, scoring), broker)

        async with (
            PoolLogGate(health.recovery),
            httpx.AsyncClient(headers={"User-Agent": "tthc-pulse-alerts"}) as webhooks,
            httpx.AsyncClient(base_url=str(settings.scoring_url), timeout=10.0) as scoring,
            open_resources(settings, broker, before_broker_start) as resources,
        ):
            app.state.resources = resources
            tasks = start_loops(app.state.container)
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await health.recovery.stop()
                withdraw_container(app, broker)  # late requests get 503 `starting`, not a closing pool

    app = FastAPI(
        telemetry=NO_OPENTELEMETRY,
        title="TTHC Pulse — alerts",
        description="Cảnh báo sớm theo ngưỡng chỉ số / Threshold warnings for units",
        version="0.1.0",
        lifespan=lifespan,
    )
    # The dashboard (served by scoring on another port) reads alerts and their stream from the browser.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[o.strip() for o in settings.cors_origins.split(",") if o.strip()],
        # The dashboard reads alerts, and its operator acknowledges and silences them with the admin token.
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=["Last-Event-ID", "Authorization", "Content-Type"],
    )
    install_error_handlers(app)
    install_database_outage_handler(app, health.recovery, retry_after_s=settings.retry_after_s)
    # Scoring does not decide readiness (alerts work without it, minus near-due lists), but /readyz says so.
    # ...but a SCORING_URL that answers as another service or another stack's scoring does (shared.identity).
    install_health_routes(
        app,
        lambda: with_identity_checks(
            tracked_checks(readiness_of(app), {"database": health.database}), [health.scoring_peer]
        ),
        lambda: {
            **unreachable_details({"database": health.database, "scoring": health.scoring}),
            **health.scoring_peer.detail(),
        },
        identity=Identity("alerts", settings.stack_id),
    )
    app.include_router(api.router)
    app.include_router(receivers_api.router)
    app.include_router(stream.router)
    install_standard_openapi(app)
    return app
