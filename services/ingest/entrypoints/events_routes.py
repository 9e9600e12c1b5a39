"""`POST /v1/events`, `POST /v1/dvcqg/dossiers` and `GET /v1/units`: validate, write to Kafka, report per item."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Request, Response

from services.ingest.adapters.registry_store import unit_path
from services.ingest.bootstrap import Container
from services.ingest.domain.api_keys import StoredKey, looks_like_api_key
from services.ingest.domain.batch import MAX_BATCH_ITEMS, BatchError, EventsBody
from services.ingest.entrypoints.requests import (
    ContainerDep,
    authenticate_admin,
    authenticate_key,
    media_kind,
    read_body,
)
from services.ingest.entrypoints.schemas import EVENT_EXAMPLES, IngestResponse, UnitList
from services.ingest.service.accept_events import Acceptance, AcceptEvents
from services.ingest.service.ports import BrokerUnavailableError
from shared.contract import DossierEvent
from shared.http import ApiError, ErrorBody, bearer_token, error_responses

router = APIRouter()
T = TypeVar("T")
_Route = Callable[..., Awaitable[Response]]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Body unusable as a whole (invalid_json, not_an_array)"},
    401: {"model": ErrorBody, "description": "Missing, unknown (invalid_api_key) or revoked (revoked_api_key) key"},
    413: {"model": ErrorBody, "description": "More than 5,000 items (batch_too_large) or 5 MiB (body_too_large)"},
    415: {"model": ErrorBody, "description": "Content-Type other than JSON or NDJSON"},
    **error_responses(
        503,
        descriptions={
            503: "Kafka did not acknowledge (broker_unavailable), PostgreSQL is unreachable (database_unavailable) "
            "or the service is starting (starting): nothing of the request counts as accepted; retry the same "
            "events after Retry-After seconds (event_id makes the retry safe)"
        },
    ),
}

_EVENTS_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "array",
                "maxItems": MAX_BATCH_ITEMS,
                # Each item is validated on its own (SPEC §7): an item that is not a DossierEvent does not fail the
                # request, it is listed in `rejected` of a 200. Any item is therefore valid at the request level.
                "items": {
                    "anyOf": [{"$ref": "#/components/schemas/DossierEvent"}, {}],
                    "description": "A DossierEvent; anything else is reported in `rejected` (not_an_object, …)",
                },
            },
            "example": EVENT_EXAMPLES,
        },
        "application/x-ndjson": {
            "schema": {"type": "string", "description": "One DossierEvent JSON object per line"},
            "example": "\n".join(orjson.dumps(event).decode() for event in EVENT_EXAMPLES) + "\n",
        },
    },
}

_DVCQG_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "description": "One DongBoHoSoMC snapshot, an array of them, or the portal envelope "
                '{"service": "DongBoHoSoMC", "data": [...]} (at most 5,000 snapshots; see docs/dvcqg.md)',
                # A snapshot that is not an object is one `rejected` item of a 200, like any other bad snapshot.
                "oneOf": [
                    {"type": "object"},
                    {"type": "array", "items": {"description": "A DongBoHoSoMC snapshot (an object)"}},
                ],
            },
            "example": {
                "service": "DongBoHoSoMC",
                "data": [
                    {
                        "MaHoSo": "000.00.31.H26-240701-0001",
                        "MaTTHC": "1.004227",
                        "DonViXuLy": "UBND quận Ba Đình",
                        "KenhThucHien": "2",
                        "TrangThaiHoSo": "4",
                        "NgayTiepNhan": "20240701081500",
                        "NgayHenTra": "20240710170000",
                    }
                ],
            },
        }
    },
}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/json")


async def _answer(accept: AcceptEvents, endpoint: str, acceptance: Awaitable[Acceptance], retry_after: int) -> Response:
    """The per-item 200 — or 503 when the broker did not acknowledge (nothing of the request counts as accepted)."""
    try:
        return _json((await acceptance).body())
    except BrokerUnavailableError as error:
        raise ApiError(
            503,
            "broker_unavailable",
            "Không ghi được vào Kafka; không sự kiện nào được tiếp nhận, hãy gửi lại sau "
            f"{retry_after} giây / Kafka did not acknowledge the write; nothing was accepted, retry after "
            f"{retry_after} s",
            {"Retry-After": str(retry_after)},
        ) from error
    except BatchError as error:  # DVCQG: not an object/array, or too many snapshots
        raise _refused(accept, endpoint, error) from None


async def _key_and_body(
    request: Request,
    container: Container,
    endpoint: str,
    kinds: tuple[str, ...],
    wrong_kind: str,
    parse: Callable[[str, bytes], T],
) -> tuple[StoredKey, T]:
    """The caller's key and the body parsed by `parse(media kind, body)` — or the whole request refused (and
    counted): 401 before 415 before 413 before 400, as a client fixing one thing at a time would want."""
    try:
        key = await authenticate_key(request, container.keys)
        kind = media_kind(request)
        if kind not in kinds:
            raise ApiError(415, "unsupported_media_type", wrong_kind)
        return key, parse(kind, await read_body(request))
    except (ApiError, BatchError) as error:
        raise _refused(container.accept, endpoint, error) from None


def _items(kind: str, body: bytes) -> EventsBody:
    """The body goes on as it came: decoded in one pass when it can (`validate_json_body`), its invalid_json /
    not_an_array / batch_too_large answered as before."""
    return EventsBody(body, ndjson=kind == "ndjson")


def _document(_: str, body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BatchError("invalid_json", "Nội dung không phải JSON hợp lệ / body is not valid JSON") from None


def _refused(accept: AcceptEvents, endpoint: str, error: ApiError | BatchError) -> ApiError:
    accept.refused(endpoint, error.error if isinstance(error, ApiError) else error.code)
    if isinstance(error, BatchError):
        return ApiError(error.status, error.code, error.detail)
    return error


def _batch_route(path: str, summary: str, description: str, body: dict[str, Any]) -> Callable[[_Route], _Route]:
    """A POST route that accepts a batch: both body formats answer the same IngestResponse and error bodies."""
    return router.post(
        path,
        tags=["events"],
        summary=summary,
        description=description,
        response_model=IngestResponse,
        responses=_ERRORS,
        openapi_extra={"requestBody": body},
    )


@_batch_route(
    "/v1/events",
    "Gửi sự kiện hồ sơ / send dossier status events",
    "A JSON array (or NDJSON, one event per line) of at most 5,000 events and 5 MiB. Each event is "
    "validated (docs/event-contract.md); valid ones are written to Kafka with acks=all and counted in "
    "`accepted`, invalid ones are listed in `rejected` with their index and error code. An event naming a retired "
    "unit and dated on or after its valid_to is accepted as it is and listed in `redirected` with the successor its "
    "figures count for (SPEC §1 effective unit).",
    _EVENTS_BODY,
)
async def post_events(request: Request, container: ContainerDep) -> Response:
    key, items = await _key_and_body(
        request, container, "events", ("json", "ndjson"), "Cần JSON hoặc NDJSON / JSON or NDJSON required", _items
    )
    acceptance = container.accept.events(items, key.units)
    return await _answer(container.accept, "events", acceptance, container.settings.retry_after_s)


@_batch_route(
    "/v1/dvcqg/dossiers",
    "Nhận hồ sơ theo chuẩn DVCQG (DongBoHoSoMC) / national-portal dossier snapshots",
    "The body one-stop-shop systems push to the National Public Service Portal. Each snapshot becomes "
    "events with deterministic event_ids (sending it again changes nothing); a snapshot is accepted whole or "
    "rejected with one item (index = snapshot index). `accepted` counts events; `redirected` lists the events of a "
    "retired unit dated on or after its valid_to, as for /v1/events.",
    _DVCQG_BODY,
)
async def post_dvcqg(request: Request, container: ContainerDep) -> Response:
    key, document = await _key_and_body(request, container, "dvcqg", ("json",), "Cần JSON / JSON required", _document)
    acceptance = container.accept.dvcqg(document, key.units)
    return await _answer(container.accept, "dvcqg", acceptance, container.settings.retry_after_s)


@router.get(
    "/v1/units",
    tags=["units"],
    summary="Danh mục đơn vị / the unit registry as ingest sees it",
    description="Readable with any valid API key or the admin token. Retired units are listed too, with their "
    "valid_to and successor; `path` is the current tree.",
    response_model=UnitList,
    responses=error_responses(
        401, 403, 503, descriptions={403: "A bearer token that is neither an API key nor the admin token"}
    ),
)
async def get_units(request: Request, container: ContainerDep) -> Response:
    token = bearer_token(request)
    if token is not None and not looks_like_api_key(token):
        authenticate_admin(request, container)
    else:
        await authenticate_key(request, container.keys)
    registry = container.registry.registry
    items = [
        {
            "unit_id": unit.unit_id,
            "name": unit.name,
            "level": str(unit.level),
            "parent_id": unit.parent_id,
            "path": unit_path(registry, unit.unit_id),
            "valid_from": unit.valid_from.isoformat() if unit.valid_from else None,
            "valid_to": unit.valid_to.isoformat() if unit.valid_to else None,
            "successor_id": unit.successor_id,
        }
        for unit in registry
    ]
    return _json({"items": items})


def event_schema_components() -> dict[str, Any]:
    """DossierEvent and its enums as OpenAPI components (the request body refers to them)."""
    schema = DossierEvent.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    schema["examples"] = EVENT_EXAMPLES[:1]
    return {**definitions, "DossierEvent": schema}
