"""POST batches to the ingest API (SPEC §7): `POST {url}/v1/events`, Bearer key, JSON arrays of ≤ 5,000 events,
several requests in flight; 503/429 and connection errors are retried by `shared.http_retry` (Retry-After, else
jittered backoff)."""

from __future__ import annotations

import asyncio

import httpx
import orjson

from shared.http_retry import RetryPolicy, is_retryable, send_with_retry
from simulator.sinks.base import SinkError, SinkResult
from simulator.stream import Delivery

MAX_BATCH = 5_000
MAX_BODY = 5 * 1024 * 1024  # SPEC §7 body limit
_MAX_BACKOFF = 30.0


def split_by_body_size(events: list[dict], limit: int = MAX_BODY) -> list[bytes]:
    """JSON array bodies of at most `limit` bytes (halving a batch until each half fits)."""
    body = orjson.dumps(events)
    if len(body) <= limit or len(events) == 1:
        return [body]
    half = len(events) // 2
    return split_by_body_size(events[:half], limit) + split_by_body_size(events[half:], limit)


class HttpSink:
    def __init__(
        self,
        url: str,
        api_key: str,
        concurrency: int = 4,
        max_retries: int = 50,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.result = SinkResult()
        self._endpoint = url.rstrip("/") + "/v1/events"
        self._client = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        self._retry = RetryPolicy(max_retries=max_retries, max_wait_s=_MAX_BACKOFF)
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=concurrency * 2)
        self._workers = [asyncio.create_task(self._worker()) for _ in range(concurrency)]
        self._failure: BaseException | None = None

    async def send(self, batch: list[Delivery]) -> None:
        if self._failure:
            raise self._failure
        for start in range(0, len(batch), MAX_BATCH):
            for body in split_by_body_size([d.event for d in batch[start : start + MAX_BATCH]]):
                await self._queue.put(body)

    async def close(self) -> None:
        for _ in self._workers:
            await self._queue.put(None)
        await asyncio.gather(*self._workers, return_exceptions=True)
        await self._client.aclose()
        if self._failure:
            raise self._failure

    async def _worker(self) -> None:
        while (body := await self._queue.get()) is not None:
            if self._failure:
                continue  # drain: the run is failing, but close() must still be able to finish
            try:
                await self._post(body)
            except Exception as exc:  # kept, and re-raised to the caller by send() or close()
                self._failure = exc

    async def _post(self, body: bytes) -> None:
        # Nothing of a 503 counts as accepted (SPEC §7): the same batch is sent again.
        gave_up = SinkError(f"POST {self._endpoint}: gave up after {self._retry.max_retries} retries")
        try:
            response = await send_with_retry(
                lambda: self._client.post(self._endpoint, content=body), self._retry, on_retry=self._count_retry
            )
        except httpx.TransportError as error:
            raise gave_up from error
        if is_retryable(response):
            raise gave_up
        if response.status_code != 200:
            raise SinkError(f"POST {self._endpoint} → {response.status_code}: {response.text[:500]}")
        reply = response.json()
        rejected = reply.get("rejected", [])
        self.result.sent += reply.get("accepted", 0) + len(rejected)
        self.result.accepted += reply.get("accepted", 0)
        self.result.rejected += len(rejected)
        self.result.rejected_by_error.update(str(item.get("error")) for item in rejected)

    def _count_retry(self) -> None:
        self.result.retries += 1
