"""HTTP pieces every service shares: health/readiness routes, the JSON error shape, bearer-token parsing."""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from pydantic import BaseModel, BeforeValidator, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from shared.identity import Identity

# An RFC 3339 date-time as a query parameter accepts: pydantic alone would also take "0.5" or "1700000000" (Unix
# seconds), which the documents' `format: date-time` says is invalid.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$")


def _rfc3339_text(value: object) -> object:
    if isinstance(value, str) and not _RFC3339.match(value):
        raise ValueError("not an RFC 3339 date-time, e.g. 2025-07-01T08:00:00+07:00")
    return value


DateTimeText = Annotated[datetime, BeforeValidator(_rfc3339_text)]

# The largest value of a PostgreSQL bigint: the upper bound of every integer id or cursor a route accepts (a
# larger one would overflow in asyncpg and answer 500).
PG_BIGINT_MAX = 2**63 - 1


# FastAPI's native OpenTelemetry (0.165+) asks the global tracer, meter and logger providers whether they are
# configured on EVERY request — each asks os.environ — before it passes the request on: ≈ 10 % of the scoring API
# process's event-loop time under a read storm (py-spy, docs/benchmarks.md). The services export Prometheus metrics
# and no OpenTelemetry, so every FastAPI app is made with this configuration and the check ends at the first key.
NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


class ErrorBody(BaseModel):
    """Every error answer (SPEC §6): a stable machine code and a human-readable detail."""

    error: str = Field(description="Stable machine-readable code, e.g. unknown_unit, invalid_period")
    detail: str = Field(description="Explanation, Vietnamese first then English")


class ApiError(Exception):
    """Raise from a route to answer `{"error": code, "detail": text}` with the given status."""

    def __init__(self, status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers


class Health(BaseModel):
    status: str = Field(description="ok, or not_ready")
    service: str | None = Field(None, description="Which service answers: ingest, scoring or alerts")
    stack_id: str | None = Field(None, description="The stack (cluster) it belongs to: its STACK_ID setting")
    checks: dict[str, bool] = Field(default_factory=dict, description="Each dependency: reachable or not")
    details: dict[str, str] = Field(
        default_factory=dict,
        description="Dependencies in trouble right now, e.g. scoring: 'unreachable since 2025-07-01T08:00:00+00:00 "
        "(12 failures; last: ConnectError)'; a dependency listed here may leave readiness true (docs/reliability.md)",
    )


ReadinessCheck = Callable[[], Awaitable[bool]]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.error, "detail": exc.detail}, exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        detail = f"Tham số không hợp lệ: {where}: {first.get('msg', '')} / invalid parameter {where}"
        return JSONResponse({"error": "invalid_request", "detail": detail}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # 400 is FastAPI's answer to a body it cannot parse ("There was an error parsing the body").
        code = {400: "invalid_body", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed"}  # fmt: skip
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return JSONResponse(
            {"error": code.get(exc.status_code, "http_error"), "detail": str(exc.detail)},
            exc.status_code,
            headers=headers or None,
        )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app serves at this path (RFC 9110 `Allow` of a 405). Starlette's own answer
    names only the first route that matched the path, and FastAPI makes one route per method."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches({**request.scope, "method": "\x00"})
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


def install_health_routes(
    app: FastAPI,
    checks: Callable[[], dict[str, ReadinessCheck]],
    details: Callable[[], dict[str, str]] | None = None,
    identity: Identity | None = None,
) -> None:
    """`/healthz`: the process answers. `/readyz`: every dependency answered a real round-trip just now.

    `checks` is called per request because the connections only exist once the lifespan has opened them;
    `details` (optional) describes dependencies in trouble, including ones that do not decide readiness.
    `identity` (service name and STACK_ID) is in both answers: callers check it (`shared.identity`).
    """
    who = {} if identity is None else {"service": identity.service, "stack_id": identity.stack_id}

    @app.get("/healthz", response_model=Health, tags=["ops"], summary="Process alive")
    async def healthz() -> Health:
        return Health(status="ok", **who)

    @app.get(
        "/readyz",
        response_model=Health,
        tags=["ops"],
        summary="Broker and database reachable",
        responses={503: {"model": Health}},
    )
    async def readyz() -> JSONResponse:
        results = {name: await check() for name, check in checks().items()}
        ok = bool(results) and all(results.values())
        extra = details() if details else {}
        body = Health(status="ok" if ok else "not_ready", checks=results, details=extra, **who)
        return JSONResponse(body.model_dump(), 200 if ok else 503)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_admin(request: Request, admin_token: str) -> None:
    token = bearer_token(request)
    if token is None:
        raise ApiError(401, "unauthorized", "Thiếu token quản trị / admin bearer token required",
                       headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    if not hmac.compare_digest(token.encode(), admin_token.encode()):
        raise ApiError(403, "forbidden", "Token không có quyền quản trị / not an admin token")


# --- Error responses in the OpenAPI document -------------------------------------------------------------------

RETRY_AFTER_HEADER: dict[str, Any] = {
    "Retry-After": {"schema": {"type": "integer", "minimum": 1}, "description": "Seconds to wait before retrying"}
}
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Body unusable as a whole (invalid_json, …)",
    401: "No bearer token (unauthorized) or an unknown one",
    403: "A token without the right (forbidden)",
    404: "No such resource",
    409: "The resource is not in a state that allows this",
    413: "Body too large",
    415: "Unsupported Content-Type (unsupported_media_type)",
    422: "A parameter or the body is invalid (invalid_request, or a more precise code)",
    503: "A dependency is unreachable (database_unavailable, broker_unavailable) or the service is starting: "
    "retry after Retry-After seconds",
}


def error_responses(*statuses: int, descriptions: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route: each status answered with ErrorBody; 503 documents Retry-After."""
    own = descriptions or {}
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": own.get(status, ERROR_DESCRIPTIONS[status])}
        if status == 503:
            entry["headers"] = RETRY_AFTER_HEADER
        responses[status] = entry
    return responses


_ERROR_BODY_REF = {"$ref": "#/components/schemas/ErrorBody"}


def standardise_error_responses(document: dict[str, Any]) -> dict[str, Any]:
    """Make the document say what the handlers do: FastAPI's default 422 (HTTPValidationError) becomes ErrorBody,
    every ErrorBody 503 carries Retry-After, and the unused validation-error schemas go."""
    uses_error_body = False
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation and "400" not in responses and 400 not in responses:
                # FastAPI answers a body it cannot parse with 400 before the route runs (invalid_body).
                responses["400"] = {
                    "description": "The body cannot be parsed (invalid_body, invalid_json, …)",
                    "content": {"application/json": {"schema": dict(_ERROR_BODY_REF)}},
                }
            for status, response in responses.items():
                content = response.get("content", {}).get("application/json", {})
                if content.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                    content["schema"] = dict(_ERROR_BODY_REF)
                    response["description"] = ERROR_DESCRIPTIONS[422]
                if content.get("schema") == _ERROR_BODY_REF:
                    uses_error_body = True
                    if str(status) == "503":
                        response.setdefault("headers", RETRY_AFTER_HEADER)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    text = str(document.get("paths", {}))
    for name in ("HTTPValidationError", "ValidationError"):
        if f"/{name}'" not in text:
            schemas.pop(name, None)
    if uses_error_body:
        schemas.setdefault("ErrorBody", ErrorBody.model_json_schema())
    return document


def install_standard_openapi(app: FastAPI) -> None:
    """Serve the generated document passed through `standardise_error_responses` (generated once)."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            app.openapi_schema = standardise_error_responses(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
