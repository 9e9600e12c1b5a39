"""Operator endpoints (Bearer = ADMIN_TOKEN): the unit registry, unit aliases and API keys."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Request, Response

from services.ingest.bootstrap import Container
from services.ingest.domain.aliases import parse_aliases_csv, parse_aliases_json
from services.ingest.entrypoints.requests import ContainerDep, authenticate_admin, media_kind, read_body
from services.ingest.entrypoints.schemas import (
    AliasList,
    ApiKeyCreated,
    ApiKeyInfo,
    ApiKeyList,
    ApiKeyRequest,
    RegistryRejected,
    UnitsLoaded,
)
from services.ingest.service.key_admin import InvalidKeyRequestError
from shared.http import ApiError, error_responses
from shared.unit_loading import parse_units_csv, parse_units_json
from shared.units import UnitError

router = APIRouter(prefix="/v1/admin", tags=["admin"])
P = TypeVar("P")

_ADMIN_ERRORS: dict[int | str, dict[str, Any]] = error_responses(
    401,
    403,
    503,
    descriptions={
        401: "No bearer token",
        403: "A token that is not the admin token (API keys included)",
        503: "PostgreSQL is unreachable (database_unavailable) or the service is starting: retry after "
        "Retry-After seconds; nothing was changed",
    },
)
_BODY_ERRORS = error_responses(400, 413, 415, descriptions={413: "Body over 5 MiB (body_too_large)"})
_UNITS_CSV_EXAMPLE = (
    "unit_id,name,level,parent_id,valid_from,valid_to,successor_id\n"
    "H26,Thành phố Hà Nội,city,,,,\n"
    "H26.DIS.HOANKIEM,Quận Hoàn Kiếm,district,H26,,2025-07-01,H26.COM.HOANKIEM\n"
    "H26.DIS.HOANKIEM.C01,Phường Hàng Bạc,commune,H26.DIS.HOANKIEM,,2025-07-01,H26.COM.HOANKIEM\n"
    "H26.COM.HOANKIEM,Phường Hoàn Kiếm,commune,H26,2025-07-01,,\n"
)
_UNITS_BODY = {
    "required": True,
    "content": {
        "text/csv": {
            "schema": {
                "type": "string",
                "description": "Header unit_id,name,level,parent_id,valid_from,valid_to,successor_id; the last "
                "three columns may be left out (SPEC §1). Dates YYYY-MM-DD, the first day of a month.",
            },
            "example": _UNITS_CSV_EXAMPLE,
        },
        "application/json": {
            "schema": {"type": "array", "items": {"$ref": "#/components/schemas/UnitRow"}},
            "example": [
                {"unit_id": "H26", "name": "Thành phố Hà Nội", "level": "city", "parent_id": None},
                {
                    "unit_id": "H26.DIS.HOANKIEM.C01",
                    "name": "Phường Hàng Bạc",
                    "level": "commune",
                    "parent_id": "H26.DIS.HOANKIEM",
                    "valid_to": "2025-07-01",
                    "successor_id": "H26.COM.HOANKIEM",
                },
                {
                    "unit_id": "H26.COM.HOANKIEM",
                    "name": "Phường Hoàn Kiếm",
                    "level": "commune",
                    "parent_id": "H26",
                    "valid_from": "2025-07-01",
                },
            ],
        },
    },
}
_ALIASES_BODY = {
    "required": True,
    "content": {
        "text/csv": {"schema": {"type": "string"}, "example": "alias,unit_id\nUBND quận Ba Đình,H26.D01\n"},
        "application/json": {
            "schema": {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]},
            "example": {"UBND quận Ba Đình": "H26.D01", "000.00.31.H26": "H26.D01"},
        },
    },
}


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


def _rejected(code: str, what_vi: str, what_en: str, errors: list[UnitError]) -> Response:
    body = {
        "error": code,
        "detail": f"{what_vi}: {len(errors)} lỗi, không có thay đổi nào / {what_en}: {len(errors)} error(s), "
        "nothing applied",
        "errors": [error.as_dict() for error in errors],
    }
    return _json(body, 422)


async def _csv_or_json_body(request: Request) -> tuple[bytes | None, object]:
    """(the raw body, None) for text/csv, (None, the parsed body) for JSON; 415 for NDJSON."""
    kind = media_kind(request)
    if kind == "csv":
        return await read_body(request), None
    if kind == "json":
        return None, await _json_body(request)
    raise ApiError(415, "unsupported_media_type", "Cần text/csv hoặc JSON / text/csv or JSON required")


async def _admin_upload(
    request: Request, container: Container, from_csv: Callable[[bytes], P], from_json: Callable[[object], P]
) -> P:
    """An admin upload read whole: the admin token checked first, then the text/csv or JSON body parsed by its kind."""
    authenticate_admin(request, container)
    csv, document = await _csv_or_json_body(request)
    return from_csv(csv) if csv is not None else from_json(document)


_registry_rejected = partial(_rejected, "invalid_registry", "Danh mục không hợp lệ", "invalid registry")
_aliases_rejected = partial(_rejected, "invalid_aliases", "Bí danh không hợp lệ", "invalid aliases")


def _alias_list(aliases: dict[str, str]) -> Response:
    return _json({"items": [{"alias": alias, "unit_id": unit_id} for alias, unit_id in sorted(aliases.items())]})


async def _json_body(request: Request) -> object:
    try:
        return orjson.loads(await read_body(request))
    except orjson.JSONDecodeError:
        raise ApiError(400, "invalid_json", "Nội dung không phải JSON hợp lệ / body is not valid JSON") from None


def _upload_route(path: str, summary: str, description: str, model: type[Any], body: dict[str, Any]) -> Any:
    """A PUT route that loads a CSV or JSON body whole or not at all: 422 lists every problem (RegistryRejected)."""
    return router.put(
        path,
        summary=summary,
        description=description,
        response_model=model,
        responses={**_ADMIN_ERRORS, **_BODY_ERRORS, 422: {"model": RegistryRejected, "description": "Nothing applied"}},
        openapi_extra={"requestBody": body},
    )


@_upload_route(
    "/units",
    "Nạp danh mục đơn vị / load (upsert) the unit registry",
    "CSV (text/csv) or a JSON array with unit_id, name, level, parent_id and optionally valid_from, "
    "valid_to, successor_id. Merged over the stored registry (units not in the body are kept, with their validity) "
    "and validated as one tree over time; a unit's level never changes. Any error → 422 with every problem (row, "
    "field, code; table in docs/ingest.md) and nothing applied. valid_from and valid_to must be month starts.",
    UnitsLoaded,
    _UNITS_BODY,
)
async def put_units(request: Request, container: ContainerDep) -> Response:
    parsed = await _admin_upload(request, container, parse_units_csv, parse_units_json)
    if parsed.errors:
        return _registry_rejected(parsed.errors)
    outcome = await container.registry_admin.load_units(parsed.records)
    if outcome.registry is None:
        return _registry_rejected(outcome.errors)
    return _json({"units": len(outcome.registry), "added": outcome.added, "updated": outcome.updated})


@router.get("/unit-aliases", summary="Bí danh đơn vị / list unit aliases", response_model=AliasList,
            responses=_ADMIN_ERRORS)  # fmt: skip
async def get_aliases(request: Request, container: ContainerDep) -> Response:
    authenticate_admin(request, container)
    return _alias_list(await container.registry_admin.aliases())


@_upload_route(
    "/unit-aliases",
    "Thêm bí danh đơn vị / add or re-point unit aliases (DVCQG DonViXuLy)",
    "CSV `alias,unit_id`, a JSON object {alias: unit_id} or an array of {alias, unit_id}. Upsert; "
    "any error → 422 with every problem and nothing applied.",
    AliasList,
    _ALIASES_BODY,
)
async def put_aliases(request: Request, container: ContainerDep) -> Response:
    rows, unreadable = await _admin_upload(request, container, parse_aliases_csv, parse_aliases_json)
    if unreadable:
        return _aliases_rejected(unreadable)
    parsed = await container.registry_admin.put_aliases(rows)
    if parsed.errors:
        return _aliases_rejected(parsed.errors)
    return _alias_list(parsed.aliases)


@router.delete("/unit-aliases/{alias}", summary="Xóa bí danh / delete an alias", status_code=204,
               responses={**_ADMIN_ERRORS, **error_responses(404)})  # fmt: skip
async def delete_alias(alias: str, request: Request, container: ContainerDep) -> Response:
    authenticate_admin(request, container)
    if not await container.registry_admin.delete_alias(alias):
        raise ApiError(404, "unknown_alias", f"Không có bí danh '{alias}' / no alias '{alias}'")
    return Response(status_code=204)


@router.post(
    "/api-keys",
    summary="Tạo khóa API / create an API key",
    description="The key is in the response this once; only its SHA-256 is stored. It may send events for the "
    "listed units and everything below them.",
    status_code=201,
    response_model=ApiKeyCreated,
    responses={**_ADMIN_ERRORS, **error_responses(400, 413, 422)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ApiKeyRequest.model_json_schema()}},
        }
    },
)
async def create_api_key(request: Request, container: ContainerDep) -> Response:
    authenticate_admin(request, container)
    body = await _json_body(request)
    name, units = (body.get("name"), body.get("units")) if isinstance(body, dict) else (None, None)
    try:
        new, stored = await container.key_admin.create(name, units)
    except InvalidKeyRequestError as error:
        raise ApiError(422, "invalid_request", str(error)) from None
    return _json({**stored.as_dict(), "key": new.key}, 201)


@router.get("/api-keys", summary="Danh sách khóa API / list API keys (no secrets)", response_model=ApiKeyList,
            responses=_ADMIN_ERRORS)  # fmt: skip
async def list_api_keys(request: Request, container: ContainerDep) -> Response:
    authenticate_admin(request, container)
    return _json({"items": [key.as_dict() for key in await container.key_admin.list_keys()]})


@router.delete(
    "/api-keys/{key_id}",
    summary="Thu hồi khóa API / revoke an API key",
    description="Idempotent. Every ingest process is notified at once; a process that missed the notice stops "
    "accepting the key within KEY_CACHE_TTL_S (default 5 s).",
    response_model=ApiKeyInfo,
    responses={**_ADMIN_ERRORS, **error_responses(404)},
)
async def revoke_api_key(key_id: str, request: Request, container: ContainerDep) -> Response:
    authenticate_admin(request, container)
    stored = await container.key_admin.revoke(key_id)
    if stored is None:
        raise ApiError(404, "unknown_api_key", f"Không có khóa '{key_id}' / no API key '{key_id}'")
    return _json(stored.as_dict())
