"""The ingest service's one settings class (environment variables; bad or placeholder values fail at start)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.kafka import DOSSIER_EVENTS, RECORD_MAX_BYTES
from shared.settings import AdminSettingsMixin, ServiceSettings, retry_after_settings, seconds_setting


class IngestSettings(ServiceSettings, AdminSettingsMixin, retry_after_settings("the broker or the database")):
    ingest_port: Annotated[int, Field(ge=1, le=65535, description="HTTP port (SPEC §0)")] = 8001
    ingest_processes: Annotated[
        int,
        Field(
            ge=1,
            le=32,
            description="Ingest processes serving INGEST_PORT together (SO_REUSEPORT), each with its own Kafka "
            "producer; one that dies is restarted. 1: a single process, no launcher. The local stack and compose "
            "run 2 (docs/benchmarks.md: one process is Python-bound at ~40 k events/s)",
        ),
    ] = 1
    events_topic: Annotated[
        str,
        Field(
            pattern=r"^[A-Za-z0-9._-]{1,249}$",
            description="Kafka topic accepted events are written to (must exist; tests use a unique one)",
        ),
    ] = DOSSIER_EVENTS
    produce_timeout_s: float = seconds_setting(
        10.0,
        "How long a request waits for the broker's acks=all before answering 503; also the "
        "producer's request timeout, so a batch the broker never took is dropped by then",
        le=120,
    )
    producer_linger_ms: Annotated[
        int, Field(ge=0, le=1000, description="Producer linger: how long a partial batch waits for company")
    ] = 5
    producer_compression: Annotated[
        str, Field(pattern=r"^(none|gzip)$", description="Record batch compression: none (default) or gzip")
    ] = "none"
    key_cache_ttl_s: float = seconds_setting(
        5.0,
        "How long an API-key lookup is cached: the bound on how long a revoked key keeps working "
        "in a process that missed the revocation notice",
        le=60,
        ge=0,
    )
    registry_refresh_s: float = seconds_setting(
        30.0, "Period of the unit-registry reload from PostgreSQL (fallback)", le=3600
    )
    registry_miss_refresh_s: float = seconds_setting(
        2.0, "Minimum gap between reloads triggered by an unknown unit_id in a request", le=60, ge=0
    )
    max_event_bytes: Annotated[
        int,
        Field(
            ge=1024,
            le=RECORD_MAX_BYTES,
            description="Largest encoded event accepted (bytes); keep it under the topic's max.message.bytes "
            "(Kafka's default 1 MiB) minus batch overhead. Larger events are rejected with event_too_large",
        ),
    ] = 1_000_000
