"""What every route does with a request: get the container, authenticate, read the body within its limit."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.ingest.bootstrap import Container
from services.ingest.domain.api_keys import StoredKey
from services.ingest.service.ports import KeyLookups
from shared.bootstrap import container_dependency
from shared.http import ApiError, bearer_token, require_admin

# The container built in the lifespan; 503 `starting` (Retry-After: 1) before that.
ContainerDep = Annotated[Container, Depends(container_dependency(Container))]

MAX_BODY_BYTES = 5 * 1024 * 1024  # SPEC §7
# A body over the limit is still read (and dropped) up to this size, so the client gets its 413 instead of a
# connection reset mid-upload; beyond it the connection is simply closed.
_DRAIN_LIMIT_BYTES = 64 * 1024 * 1024


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


async def authenticate_key(request: Request, keys: KeyLookups) -> StoredKey:
    """The caller's API key, or 401 (missing, unknown, revoked). The admin token is not an API key."""
    presented = bearer_token(request)
    if presented is None:
        raise ApiError(
            401,
            "unauthorized",
            "Thiếu khóa API (Authorization: Bearer <khóa>) / API key required (Authorization: Bearer <key>)",
            {"WWW-Authenticate": "Bearer"},
        )
    stored = await keys.lookup(presented)
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


def authenticate_admin(request: Request, container: Container) -> None:
    """401 without a token, 403 with any other token (an API key included)."""
    require_admin(request, container.settings.admin_token)


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
