"""What the routes need at request time (built in the lifespan), plus body reading and authentication helpers."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from fastapi import Request

from services.ingest.adapters.caches import KeyCache, RegistryCache
from services.ingest.adapters.key_store import StoredKey
from services.ingest.adapters.metrics import IngestMetrics
from services.ingest.adapters.producer import EventProducer
from services.ingest.settings import IngestSettings
from shared.http import ApiError, bearer_token, require_admin

MAX_BODY_BYTES = 5 * 1024 * 1024  # SPEC §7
# A body over the limit is still read (and dropped) up to this size, so the client gets its 413 instead of a
# connection reset mid-upload; beyond it the connection is simply closed.
_DRAIN_LIMIT_BYTES = 64 * 1024 * 1024


@dataclass
class IngestRuntime:
    settings: IngestSettings
    pool: asyncpg.Pool
    producer: EventProducer
    registry: RegistryCache
    keys: KeyCache
    metrics: IngestMetrics


def runtime_of(request: Request) -> IngestRuntime:
    runtime: IngestRuntime | None = getattr(request.app.state, "ingest", None)
    if runtime is None:
        raise ApiError(503, "starting", "Dịch vụ đang khởi động / the service is starting", {"Retry-After": "1"})
    return runtime


def body_too_large(size: int | None = None) -> ApiError:
    got = f" ({size} bytes)" if size is not None else ""
    return ApiError(
        413,
        "body_too_large",
        f"Nội dung vượt quá {MAX_BODY_BYTES} byte{got} / body exceeds {MAX_BODY_BYTES} bytes{got}",
    )


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        if int(declared) <= _DRAIN_LIMIT_BYTES:
            async for _ in request.stream():
                pass
        raise body_too_large(int(declared))
    chunks: list[bytes] = []
    size = 0
    too_large = False
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            too_large = True
            if size > _DRAIN_LIMIT_BYTES:
                break
            continue
        chunks.append(chunk)
    if too_large:
        raise body_too_large()
    return b"".join(chunks)


async def authenticate_key(request: Request, runtime: IngestRuntime) -> StoredKey:
    """The caller's API key, or 401 (missing, unknown, revoked). The admin token is not an API key."""
    presented = bearer_token(request)
    if presented is None:
        raise ApiError(
            401,
            "unauthorized",
            "Thiếu khóa API (Authorization: Bearer <khóa>) / API key required (Authorization: Bearer <key>)",
            {"WWW-Authenticate": "Bearer"},
        )
    stored = await runtime.keys.lookup(presented)
    if stored is None:
        raise ApiError(
            401, "invalid_api_key", "Khóa API không hợp lệ / unknown API key", {"WWW-Authenticate": "Bearer"}
        )
    if stored.revoked:
        raise ApiError(
            401,
            "revoked_api_key",
            f"Khóa API '{stored.key_id}' đã bị thu hồi / API key '{stored.key_id}' has been revoked",
            {"WWW-Authenticate": "Bearer"},
        )
    return stored


def authenticate_admin(request: Request, runtime: IngestRuntime) -> None:
    """401 without a token, 403 with any other token (an API key included)."""
    require_admin(request, runtime.settings.admin_token)


def media_kind(request: Request) -> str:
    """'json', 'ndjson' or 'csv' from Content-Type (JSON when absent); 415 for anything else."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("", "application/json") or content_type.endswith("+json"):
        return "json"
    if content_type in ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"):
        return "ndjson"
    if content_type in ("text/csv", "application/csv"):
        return "csv"
    raise ApiError(
        415,
        "unsupported_media_type",
        f"Kiểu nội dung '{content_type}' không được hỗ trợ / unsupported Content-Type '{content_type}'",
    )
