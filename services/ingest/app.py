"""Composition root of the ingest service: settings → broker → lifespan (container) → FastAPI app with routers."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from services.ingest.adapters.metrics import IngestMetrics, LatencyMiddleware
from services.ingest.bootstrap import running_container
from services.ingest.entrypoints import admin_routes, docs_routes, events_routes
from services.ingest.processes import WorkerSet
from services.ingest.settings import IngestSettings
from shared.bootstrap import publish_container, withdraw_container
from shared.http import NO_OPENTELEMETRY, ReadinessCheck, install_error_handlers, install_health_routes
from shared.identity import Identity
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

VERSION = "0.2.0"


# A 500-event request allocates ~1,500 tracked objects (the checked events and their records), so the collector ran
# twice per request and its older generations re-walked the whole start-up heap (FastAPI, pydantic, aiokafka):
# 10-15 % of ingest's CPU under load (perf). Freezing the start-up heap takes it out of every collection; a larger
# first generation makes collections rarer while a request's objects are still alive.
_GC_FIRST_GENERATION = 20_000


def settle_garbage_collector() -> None:
    """In the service process, before serving (not in tests that build apps): what exists now — the modules, the
    app — is never collected again."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(_GC_FIRST_GENERATION, *gc.get_threshold()[1:])


def create_app(settings: IngestSettings, workers: WorkerSet | None = None) -> FastAPI:
    """`workers`: this process is one of several on the port (INGEST_PROCESSES): its metrics are shared through
    files, and it is ready only while all of them are."""
    broker = make_broker(settings.kafka_bootstrap_servers, client_id="tthc-ingest")
    docs_routes.declare_events_publisher(broker, settings.events_topic)
    metrics = IngestMetrics(multiprocess_dir=None if workers is None else str(workers.directory))
    install_kafka_log_gate()
    recovery = database_watch(
        lambda: getattr(getattr(app.state, "resources", None), "pool", None),
        on_failure=metrics.database_errors.inc,
        on_change=lambda up: metrics.database_unreachable.set(0 if up else 1),
    )
    database = recovery.state

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings, broker) as resources, PoolLogGate(recovery):
            app.state.resources = resources  # the readiness checks and the database watch read it
            async with running_container(settings, resources, metrics) as container:
                publish_container(app, container)
                if workers is not None:
                    workers.mark_ready()
                try:
                    yield
                finally:
                    if workers is not None:
                        workers.mark_stopping()
                    withdraw_container(app)
                    await recovery.stop()

    app = FastAPI(
        telemetry=NO_OPENTELEMETRY,
        title="TTHC Pulse — ingest",
        description="Cổng nhận sự kiện hồ sơ TTHC từ hệ thống Một cửa / Dossier status event gateway. "
        "Integrator guide: docs/ingest.md.",
        version=VERSION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_database_outage_handler(app, recovery, retry_after_s=settings.retry_after_s)

    def readiness_checks() -> dict[str, ReadinessCheck]:
        checks = tracked_checks(readiness_of(app), {"database": database})
        return checks if workers is None else {**checks, "processes": workers.all_ready}

    def details() -> dict[str, str]:
        found = unreachable_details({"database": database})
        if workers is not None and workers.ready_count() < workers.expected:
            found["processes"] = workers.describe()
        return found

    install_health_routes(app, readiness_checks, details, identity=Identity("ingest", settings.stack_id))
    app.include_router(events_routes.router)
    app.include_router(admin_routes.router)
    app.include_router(docs_routes.router)

    @app.get("/asyncapi.json", tags=["ops"], summary="AsyncAPI 3.0 document of the Kafka topic ingest writes")
    async def asyncapi() -> dict[str, Any]:
        return docs_routes.asyncapi_document(broker, VERSION)

    docs_routes.install_openapi(app)
    app.add_middleware(LatencyMiddleware, metrics=metrics)
    return app
