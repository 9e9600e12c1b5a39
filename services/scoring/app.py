"""Composition root of the scoring service: builds its connections in the lifespan and wires the routes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.scoring.settings import ScoringSettings
from shared.http import install_error_handlers, install_health_routes
from shared.kafka import make_broker
from shared.resources import open_resources, readiness_of


def create_app(settings: ScoringSettings) -> FastAPI:
    broker = make_broker(settings.kafka_bootstrap_servers, client_id="tthc-scoring")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings, broker) as resources:
            app.state.resources = resources
            yield

    app = FastAPI(
        title="TTHC Pulse — scoring",
        description="Chỉ số phục vụ người dân, doanh nghiệp theo đơn vị / Live per-unit indicators and the 766 score",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_health_routes(app, lambda: readiness_of(app))
    return app
