"""Kafka plumbing the services share: topic names and layout, broker construction, readiness."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from faststream.kafka import KafkaBroker

DOSSIER_EVENTS = "dossier-events"
DOSSIER_EVENTS_DLQ = "dossier-events-dlq"
UNIT_INDICATORS = "unit-indicators"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    configs: tuple[tuple[str, str], ...] = field(default_factory=tuple)


# dossier-events: 12 partitions keyed by dossier_id, so one dossier's events stay in order on one partition and
# up to 12 scoring consumers can share the load. Retention is long: a replay of history rebuilds state.
TOPIC_SPECS: tuple[TopicSpec, ...] = (
    TopicSpec(DOSSIER_EVENTS, 12, (("retention.ms", str(30 * 24 * 3600 * 1000)),)),
    TopicSpec(DOSSIER_EVENTS_DLQ, 1, (("retention.ms", str(90 * 24 * 3600 * 1000)),)),
    TopicSpec(UNIT_INDICATORS, 3, (("retention.ms", str(7 * 24 * 3600 * 1000)),)),
)


def make_broker(bootstrap_servers: str, *, client_id: str) -> KafkaBroker:
    """A FastStream Kafka broker. Nothing connects until `await broker.start()` in a service's lifespan."""
    # FastStream logs every consumed message at `log_level`; DEBUG keeps that out of INFO logs (one line per batch
    # per service would drown everything else), while errors are still logged as errors.
    return KafkaBroker(bootstrap_servers, client_id=client_id, request_timeout_ms=15_000, log_level=logging.DEBUG)


async def broker_reachable(broker: KafkaBroker, timeout_s: float = 2.0) -> bool:
    """A real metadata round-trip with the cluster (used by /readyz)."""
    return await broker.ping(timeout=timeout_s)
