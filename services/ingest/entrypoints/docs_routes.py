"""`/metrics` (Prometheus), `/asyncapi.json` (the Kafka side) and the OpenAPI document's shared components."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.openapi.utils import get_openapi
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from services.ingest.entrypoints.events_routes import event_schema_components
from services.ingest.entrypoints.requests import ContainerDep
from services.ingest.entrypoints.schemas import UnitRow
from shared.contract import DossierEvent
from shared.http import standardise_error_responses

router = APIRouter(tags=["ops"])


def declare_events_publisher(broker: KafkaBroker, topic: str) -> None:
    """Document the topic ingest writes to; the records themselves go through `adapters.producer` (faster)."""
    broker.publisher(
        topic,
        title=f"{topic}:publish",
        description="Accepted dossier status events (SPEC §2). Key = dossier_id (UTF-8), value = the event as "
        "UTF-8 JSON with `ingested_at` stamped by ingest in UTC. Written with acks=all by an idempotent producer.",
        schema=DossierEvent,
    )


def asyncapi_document(broker: KafkaBroker, version: str) -> dict[str, Any]:
    spec = AsyncAPI(
        broker,
        title="TTHC Pulse — ingest (Kafka)",
        version=version,
        description="Events the ingest service writes to Kafka",
    )
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(container: ContainerDep) -> Response:
    body, content_type = container.metrics.exposition()
    return Response(body, media_type=content_type)


def install_openapi(app: FastAPI) -> None:
    """Generate OpenAPI once, with DossierEvent and UnitRow (referenced by the raw request bodies) among the
    components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(event_schema_components())
            schemas["UnitRow"] = UnitRow.model_json_schema(ref_template="#/components/schemas/{model}")
            app.openapi_schema = standardise_error_responses(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
