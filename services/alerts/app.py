"""Composition root of the alerts service: builds its connections in the lifespan and wires the routes.

Configuration files (rules, receivers and their secrets) are read and validated in `create_app`, before any
connection: a bad file or a missing secret stops the process at start with a precise message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from services.alerts.adapters.activation import activate_at_start
from services.alerts.adapters.evaluation import Evaluator
from services.alerts.adapters.outbox import Dispatcher
from services.alerts.adapters.receiver_secrets import SecretBox
from services.alerts.adapters.receiver_store import ApiReceiversFollower
from services.alerts.adapters.receivers import Receivers
from services.alerts.adapters.receivers_reload import ReceiversWatcher
from services.alerts.adapters.rule_store import RuleBook
from services.alerts.domain.rules import load_rules
from services.alerts.entrypoints.api import install_api_routes
from services.alerts.entrypoints.context import AlertsContext, Clock, system_clock
from services.alerts.entrypoints.loops import start_loops
from services.alerts.entrypoints.receivers_api import install_receiver_routes
from services.alerts.entrypoints.stream import install_stream_route
from services.alerts.entrypoints.subscriber import register_indicators_subscriber
from services.alerts.settings import AlertsSettings
from shared.http import install_error_handlers, install_health_routes, install_standard_openapi
from shared.identity import Identity, with_identity_checks
from shared.kafka import make_broker
from shared.kafka_logs import install_kafka_log_gate
from shared.outages import (
    PoolLogGate,
    RecoveryWatch,
    install_database_outage_handler,
    pool_probe,
    tracked_checks,
    unreachable_details,
)
from shared.resources import open_resources, readiness_of

log = logging.getLogger(__name__)


def create_app(settings: AlertsSettings, *, clock: Clock = system_clock, receivers: Receivers | None = None) -> FastAPI:
    """`clock` and `receivers` are for tests (a clock they can advance); production reads both from settings.
    Receivers read from RECEIVERS_FILE are re-read when the file changes; receivers given here are fixed."""
    load_rules(settings.alert_rules_file.read_text("utf-8"), source=str(settings.alert_rules_file))
    watcher: ReceiversWatcher | None = None
    if receivers is None and settings.receivers_file is not None:
        watcher = ReceiversWatcher.for_file(settings.receivers_file)
        receivers = watcher.current
    ctx = AlertsContext(settings=settings, receivers=receivers if receivers is not None else Receivers(), clock=clock)
    key = settings.receivers_secret_key
    ctx.secret_box = SecretBox(key.get_secret_value()) if key is not None else None
    ctx.follower = ApiReceiversFollower(ctx.secret_box)
    install_kafka_log_gate()

    ctx.recovery = recovery = RecoveryWatch(ctx.database, pool_probe(lambda: ctx.pool))
    broker = make_broker(settings.kafka_bootstrap_servers, client_id="tthc-alerts")
    register_indicators_subscriber(broker, settings, ctx.ready_evaluator, ctx.metrics)

    def on_commit(transitions: int, notifications: int) -> None:
        ctx.metrics.transitions.inc(transitions)
        if transitions or notifications:
            ctx.changed.fire()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_resources(settings, broker) as resources,
            PoolLogGate(recovery),
            httpx.AsyncClient(headers={"User-Agent": "tthc-pulse-alerts"}) as webhooks,
            httpx.AsyncClient(base_url=str(settings.scoring_url), timeout=10.0) as scoring,
        ):
            app.state.resources = resources
            ctx.pool = resources.pool
            # Receivers managed through the API; a stored secret that cannot be decrypted stops the start here.
            await ctx.follow_api_receivers(force=True)
            active = await activate_at_start(resources.pool, settings.alert_rules_file, ctx.receivers, clock, on_commit)
            log.info("rule set %d active (%s, %d rules)", active.rule_set_id, active.source, len(active.rules.rules))
            ctx.rule_book = RuleBook(active)
            ctx.evaluator = Evaluator(resources.pool, ctx.rule_book, ctx.receivers, clock, on_commit)
            ctx.dispatcher = dispatcher = Dispatcher(
                resources.pool, ctx.receivers, clock, str(settings.dashboard_public_url), webhooks,
                ctx.metrics.record_outcome,
            )  # fmt: skip
            ctx.started.set()
            tasks = start_loops(ctx, dispatcher, scoring, watcher)
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await recovery.stop()
                ctx.pool = None

    app = FastAPI(
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
    install_database_outage_handler(app, recovery, retry_after_s=settings.retry_after_s)
    # Scoring does not decide readiness (alerts work without it, minus near-due lists), but /readyz says so.
    # ...but a SCORING_URL that answers as another service or another stack's scoring does (shared.identity).
    install_health_routes(
        app,
        lambda: with_identity_checks(tracked_checks(readiness_of(app), {"database": ctx.database}), [ctx.scoring_peer]),
        lambda: {
            **unreachable_details({"database": ctx.database, "scoring": ctx.scoring}),
            **ctx.scoring_peer.detail(),
        },
        identity=Identity("alerts", settings.stack_id),
    )
    install_api_routes(app, ctx)
    install_receiver_routes(app, ctx)
    install_stream_route(app, ctx)
    install_standard_openapi(app)
    app.state.alerts = ctx
    return app
