"""Prometheus metrics of the ingest service, served at `/metrics`.

Each app gets its own CollectorRegistry (not the process-global default), so tests and tools that build several
apps in one process never collide on metric names.

With several ingest processes on one port (INGEST_PROCESSES, services/ingest/processes.py) prometheus_client runs in
multiprocess mode: every process writes its values to files in one directory and `/metrics`, whichever process
answers it, reads them all — counters and histograms summed over the processes (also those that died: what they
counted stays counted), `ingest_kafka_producer_connected` the minimum and `ingest_database_unreachable` the maximum
over the live ones.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class IngestMetrics:
    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._exposed = self.registry
        if multiprocess_dir is not None:
            self._exposed = CollectorRegistry()
            MultiProcessCollector(self._exposed, path=multiprocess_dir)
        self._producer_connected: Callable[[], bool] | None = None
        self.accepted_events = Counter(
            "ingest_events_accepted",
            "Events acknowledged by the broker (acks=all) and reported as accepted",
            ["endpoint"],
            registry=self.registry,
        )
        self.rejected_events = Counter(
            "ingest_events_rejected",
            "Events refused with a per-item error, by error code",
            ["endpoint", "reason"],
            registry=self.registry,
        )
        self.requests_refused = Counter(
            "ingest_requests_refused",
            "Whole requests refused before any event was looked at (401, 403, 413, 400...), by error code",
            ["endpoint", "reason"],
            registry=self.registry,
        )
        self.broker_errors = Counter(
            "ingest_broker_errors",
            "Publishes the broker did not acknowledge (the request got 503), by exception type",
            ["kind"],
            registry=self.registry,
        )
        self.unacknowledged_events = Counter(
            "ingest_events_unacknowledged",
            "Valid events of requests answered 503 (the client must retry them)",
            ["endpoint"],
            registry=self.registry,
        )
        self.producer_connected = Gauge(
            "ingest_kafka_producer_connected",
            "1 while the Kafka producer is connected; 0 after a failure until a publish reconnects it",
            registry=self.registry,
            multiprocess_mode="livemin",
        )
        self.database_unreachable = Gauge(
            "ingest_database_unreachable",
            "1 while PostgreSQL is unreachable (requests that need it get 503 database_unavailable), else 0",
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.database_errors = Counter(
            "ingest_database_errors",
            "Requests and probes that failed because PostgreSQL was unreachable",
            registry=self.registry,
        )
        self.latency = Histogram(
            "ingest_request_duration_seconds",
            "HTTP request latency by route template, method and status",
            ["route", "method", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def watch_producer(self, connected: Callable[[], bool]) -> None:
        """`ingest_kafka_producer_connected` follows `connected`. One process: read at each scrape. Several: the
        scrape reads files, so the value is written whenever it can change — after each publish."""
        if self._exposed is self.registry:
            self.producer_connected.set_function(lambda: 1.0 if connected() else 0.0)
        else:
            self._producer_connected = connected
            self._note_producer()

    def _note_producer(self) -> None:
        if self._producer_connected is not None:
            self.producer_connected.set(1.0 if self._producer_connected() else 0.0)

    # The accept use case's IngestCounters port.
    def accepted(self, endpoint: str, events: int) -> None:
        self.accepted_events.labels(endpoint).inc(events)
        self._note_producer()

    def refused(self, endpoint: str, code: str) -> None:
        self.requests_refused.labels(endpoint, code).inc()

    def unacknowledged(self, endpoint: str, cause: str, events: int) -> None:
        self.broker_errors.labels(cause).inc()
        self.unacknowledged_events.labels(endpoint).inc(events)
        self._note_producer()

    def rejected(self, endpoint: str, items: Iterable[dict[str, Any]]) -> None:
        by_reason: dict[str, int] = {}
        for item in items:
            by_reason[item["error"]] = by_reason.get(item["error"], 0) + 1
        for reason, count in by_reason.items():
            self.rejected_events.labels(endpoint, reason).inc(count)

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self._exposed), CONTENT_TYPE_LATEST


PROCESS_HEADER = b"x-ingest-process"


class LatencyMiddleware:
    """Pure ASGI middleware (BaseHTTPMiddleware would copy every body): times each HTTP request, and names the
    process that answered in `X-Ingest-Process` (its pid: which of the INGEST_PROCESSES served a request)."""

    def __init__(self, app: ASGIApp, metrics: IngestMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._process = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (PROCESS_HEADER, self._process)]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.latency.labels(template, scope["method"], str(status)).observe(time.perf_counter() - started)
