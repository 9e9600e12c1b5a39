"""`GET /v1/stream`: server-sent events of unit figures, for live dashboards.

Every `unit-indicators` message the publisher sends is also pushed to the connected browsers as an SSE event
`indicators` (data = the same JSON). A slow client never slows the publisher: each client has a bounded queue and,
when it overflows, gets a `resync` event telling it to re-read the API. Comments every 15 s keep proxies from
closing an idle stream; a reconnecting client re-reads the API (figures are state, not a log to replay).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

HEARTBEAT_S = 15.0
QUEUE_SIZE = 1000


class Broadcaster:
    def __init__(self) -> None:
        self._clients: set[asyncio.Queue[tuple[str, str]]] = set()
        self._ids = itertools.count(1)

    @property
    def clients(self) -> int:
        return len(self._clients)

    def send(self, event: str, data: str) -> None:
        for queue in list(self._clients):
            try:
                queue.put_nowait((event, data))
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    while True:
                        queue.get_nowait()
                queue.put_nowait(("resync", "{}"))

    async def listen(self, request: Request) -> AsyncIterator[str]:
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(QUEUE_SIZE)
        self._clients.add(queue)
        try:
            yield "retry: 3000\n\n"
            while not await request.is_disconnected():
                try:
                    event, data = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield f"id: {next(self._ids)}\nevent: {event}\ndata: {data}\n\n"
        finally:
            self._clients.discard(queue)


def build_stream_router(broadcaster: Broadcaster) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/v1/stream",
        tags=["live"],
        summary="Server-sent events: `indicators` (a unit's current figures) and `resync`",
        response_class=StreamingResponse,
    )
    async def stream(request: Request) -> StreamingResponse:
        return StreamingResponse(
            broadcaster.listen(request),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router
