"""The bulk import's HTTP side: NDJSON bodies posted to `POST {url}/v1/events` with a Bearer key, each retried by
`shared.http_retry` on 429/503 (after Retry-After) and network errors (jittered backoff) until a definitive answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from shared.http_retry import RetryPolicy, Sleep, send_with_retry

MAX_RETRY_WAIT_S = 60.0
_NDJSON = {"Content-Type": "application/x-ndjson"}


class HttpEventSender:
    """Implements the import's EventSender port over one httpx client (its connection pool is shared by the
    import's workers)."""

    def __init__(self, client: httpx.AsyncClient, policy: RetryPolicy, *, sleep: Sleep = asyncio.sleep) -> None:
        self._client = client
        self._policy = policy
        self._sleep = sleep

    async def send(self, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            response = await send_with_retry(
                lambda: self._client.post("/v1/events", content=body, headers=_NDJSON), self._policy, sleep=self._sleep
            )
        except httpx.TransportError as error:
            return 0, {"error": "not_delivered", "detail": f"network error: {error!r}"}
        try:
            payload = response.json()
        except ValueError:
            payload = {"error": "http_error", "detail": f"HTTP {response.status_code}: {response.text[:200]}"}
        return response.status_code, payload


@contextlib.asynccontextmanager
async def open_sender(url: str, key: str, *, concurrency: int, max_retries: int) -> AsyncIterator[HttpEventSender]:
    limits = httpx.Limits(max_connections=concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120.0, limits=limits) as client:
        yield HttpEventSender(client, RetryPolicy(max_retries=max_retries, max_wait_s=MAX_RETRY_WAIT_S))
