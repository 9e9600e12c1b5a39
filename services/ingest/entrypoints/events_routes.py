"""`POST /v1/events`, `POST /v1/dvcqg/dossiers` and `GET /v1/units`: validate, write to Kafka, report per item."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from services.ingest.adapters.producer import BrokerUnavailableError
from services.ingest.adapters.registry_store import unit_path
from services.ingest.domain.api_keys import looks_like_api_key
from services.ingest.domain.batch import (
    MAX_BATCH_ITEMS,
    AcceptedEvent,
    BatchError,
    BatchResult,
    parse_json_array,
    parse_ndjson,
    redirections,
)
from services.ingest.domain.batch import validate_batch as validate_events
from services.ingest.domain.dvcqg import validate_dvcqg
from services.ingest.entrypoints.runtime import (
    IngestRuntime,
    authenticate_admin,
    authenticate_key,
    media_kind,
    read_body,
    runtime_of,
)
from services.ingest.entrypoints.schemas import EVENT_EXAMPLES, IngestResponse, UnitList
from shared.contract import DossierEvent, ErrorCode, encode_event
from shared.http import ApiError, ErrorBody, bearer_token, error_responses
from shared.kafka_logs import kafka_state

router = APIRouter()

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


async def _accept(
    runtime: IngestRuntime,
    endpoint: str,
    validate: Callable[[datetime], BatchResult],
) -> Response:
    """Validate (again after a registry reload if units were unknown), publish, and answer — or 503."""
    now = datetime.now(UTC)
    result = validate(now)
    # Another process (or the CLI) may have just added a unit this copy lacks: reload once and look again.
    unknown = any(item["error"] == ErrorCode.UNKNOWN_UNIT for item in result.rejected)
    if unknown and await runtime.registry.reload_after_miss():
        result = validate(now)
    records, rejected, written = _records_within_limit(result, now, runtime.settings.max_event_bytes)
    try:
        await runtime.producer.publish(records)
    except BrokerUnavailableError as error:
        cause = error.__cause__ or error
        runtime.metrics.broker_errors.labels(type(cause).__name__).inc()
        runtime.metrics.unacknowledged_events.labels(endpoint).inc(len(records))
        retry_after = runtime.settings.retry_after_s
        raise ApiError(
            503,
            "broker_unavailable",
            "Không ghi được vào Kafka; không sự kiện nào được tiếp nhận, hãy gửi lại sau "
            f"{retry_after} giây / Kafka did not acknowledge the write; nothing was accepted, retry after "
            f"{retry_after} s",
            {"Retry-After": str(retry_after)},
        ) from error
    kafka_state().succeeded()
    runtime.metrics.accepted.labels(endpoint).inc(len(records))
    runtime.metrics.count_rejections(endpoint, rejected)
    body: dict[str, Any] = {"accepted": len(records), "rejected": rejected}
    redirected = redirections(written, runtime.registry.registry.effective_unit)
    if redirected:  # only then: the 200 body stays SPEC §7's {"accepted", "rejected"} otherwise
        body["redirected"] = redirected
    return _json(body)


def _records_within_limit(
    result: BatchResult, now: datetime, max_bytes: int
) -> tuple[list[tuple[bytes, bytes]], list[dict[str, Any]], list[AcceptedEvent]]:
    """Kafka (key, value) records, the rejections — plus `event_too_large` for records the broker would refuse —
    and the accepted events that the records carry.

    Kafka refuses a record above its `message.max.bytes` (1 MiB by default) with a non-retriable error; sent
    anyway, that would turn a client's mistake into a 503 retried forever. Such an item is rejected instead — all
    events of it when one item yields several (a DVCQG snapshot stays all-or-nothing).
    """
    encoded = [(item, encode_event(item.event, now)) for item in result.accepted]
    too_large: dict[int, str] = {}  # item index → the first oversized event_id of it
    for item, value in encoded:
        if len(value) > max_bytes:
            too_large.setdefault(item.index, item.event.event_id)
    if not too_large:
        return [(item.event.dossier_id.encode(), value) for item, value in encoded], result.rejected, result.accepted
    detail = (
        f"Sự kiện vượt quá {max_bytes} byte khi ghi vào Kafka / the event exceeds {max_bytes} bytes as a Kafka record"
    )
    rejected = list(result.rejected)
    for index, event_id in too_large.items():
        rejected.append({"index": index, "event_id": event_id, "error": "event_too_large", "detail": detail})
    rejected.sort(key=lambda item: item["index"])
    kept = [(item, value) for item, value in encoded if item.index not in too_large]
    return [(item.event.dossier_id.encode(), value) for item, value in kept], rejected, [item for item, _ in kept]


def _refused(runtime: IngestRuntime, endpoint: str, error: ApiError | BatchError) -> ApiError:
    code = error.error if isinstance(error, ApiError) else error.code
    runtime.metrics.requests_refused.labels(endpoint, code).inc()
    if isinstance(error, BatchError):
        return ApiError(error.status, error.code, error.detail)
    return error


@router.post(
    "/v1/events",
    tags=["events"],
    summary="Gửi sự kiện hồ sơ / send dossier status events",
    description="A JSON array (or NDJSON, one event per line) of at most 5,000 events and 5 MiB. Each event is "
    "validated (docs/event-contract.md); valid ones are written to Kafka with acks=all and counted in "
    "`accepted`, invalid ones are listed in `rejected` with their index and error code. An event naming a retired "
    "unit and dated on or after its valid_to is accepted as it is and listed in `redirected` with the successor its "
    "figures count for (SPEC §1 effective unit).",
    response_model=IngestResponse,
    responses=_ERRORS,
    openapi_extra={"requestBody": _EVENTS_BODY},
)
async def post_events(request: Request) -> Response:
    runtime = runtime_of(request)
    endpoint = "events"
    try:
        key = await authenticate_key(request, runtime)
        kind = media_kind(request)
        if kind == "csv":
            raise ApiError(415, "unsupported_media_type", "Cần JSON hoặc NDJSON / JSON or NDJSON required")
        body = await read_body(request)
        items = parse_ndjson(body) if kind == "ndjson" else parse_json_array(body)
    except (ApiError, BatchError) as error:
        raise _refused(runtime, endpoint, error) from None
    registry = runtime.registry

    def validate(now: datetime) -> BatchResult:
        return validate_events(
            items, now=now, unit_exists=registry.registry.exists, in_scope=registry.scope_of(key.units)
        )

    return await _accept(runtime, endpoint, validate)


@router.post(
    "/v1/dvcqg/dossiers",
    tags=["events"],
    summary="Nhận hồ sơ theo chuẩn DVCQG (DongBoHoSoMC) / national-portal dossier snapshots",
    description="The body one-stop-shop systems push to the National Public Service Portal. Each snapshot becomes "
    "events with deterministic event_ids (sending it again changes nothing); a snapshot is accepted whole or "
    "rejected with one item (index = snapshot index). `accepted` counts events; `redirected` lists the events of a "
    "retired unit dated on or after its valid_to, as for /v1/events.",
    response_model=IngestResponse,
    responses=_ERRORS,
    openapi_extra={"requestBody": _DVCQG_BODY},
)
async def post_dvcqg(request: Request) -> Response:
    runtime = runtime_of(request)
    endpoint = "dvcqg"
    try:
        key = await authenticate_key(request, runtime)
        if media_kind(request) != "json":
            raise ApiError(415, "unsupported_media_type", "Cần JSON / JSON required")
        body = await read_body(request)
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise BatchError("invalid_json", "Nội dung không phải JSON hợp lệ / body is not valid JSON") from None
    except (ApiError, BatchError) as error:
        raise _refused(runtime, endpoint, error) from None
    registry = runtime.registry

    def validate(now: datetime) -> BatchResult:
        return validate_dvcqg(document, now=now, resolver=registry.resolver, in_scope=registry.scope_of(key.units))

    try:
        return await _accept(runtime, endpoint, validate)
    except BatchError as error:  # snapshots_of: not an object/array, or too many snapshots
        raise _refused(runtime, endpoint, error) from None


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
async def get_units(request: Request) -> Response:
    runtime = runtime_of(request)
    token = bearer_token(request)
    if token is not None and not looks_like_api_key(token):
        authenticate_admin(request, runtime)
    else:
        await authenticate_key(request, runtime)
    registry = runtime.registry.registry
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
