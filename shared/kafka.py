"""Kafka plumbing the services share: topic names and layout, broker construction, readiness."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

DOSSIER_EVENTS = "dossier-events"
DOSSIER_EVENTS_DLQ = "dossier-events-dlq"
UNIT_INDICATORS = "unit-indicators"


# Record size limits, set together here and nowhere else (issue 12): a record the events topic holds must be one
# every producer may send and every consumer may dead-letter. A 1.5 MB invalid record once stalled scoring for good
# because the broker took 8 MiB while the producers kept their 1 MiB default.
# - RECORD_MAX_BYTES: the largest record (key + value + headers) a producer of ours sends (`max_request_size`);
# - TOPIC_MAX_MESSAGE_BYTES: what dossier-events takes (`max.message.bytes`, and the local broker's
#   `message.max.bytes`): one record plus its batch's framing, so a record the producer sends is never refused;
# - DLQ_VALUE_MAX_BYTES: the dead-letter topic gets at most this much of a record's value (truncated copy with
#   `x-truncated` / `x-original-size` headers; the full bytes stay in the source topic), far under Kafka's
#   default 1 MiB, so the DLQ takes any record whatever its own limit.
RECORD_MAX_BYTES = 8 * 1024 * 1024
TOPIC_MAX_MESSAGE_BYTES = RECORD_MAX_BYTES + 64 * 1024
DLQ_VALUE_MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    configs: tuple[tuple[str, str], ...] = field(default_factory=tuple)


# dossier-events: 12 partitions keyed by dossier_id, so one dossier's events stay in order on one partition and
# up to 12 scoring consumers can share the load. Retention is long: a replay of history rebuilds state.
TOPIC_SPECS: tuple[TopicSpec, ...] = (
    TopicSpec(
        DOSSIER_EVENTS,
        12,
        (("retention.ms", str(30 * 24 * 3600 * 1000)), ("max.message.bytes", str(TOPIC_MAX_MESSAGE_BYTES))),
    ),
    TopicSpec(DOSSIER_EVENTS_DLQ, 1, (("retention.ms", str(90 * 24 * 3600 * 1000)),)),
    TopicSpec(UNIT_INDICATORS, 3, (("retention.ms", str(7 * 24 * 3600 * 1000)),)),
)


def make_broker(bootstrap_servers: str, *, client_id: str) -> KafkaBroker:
    """A FastStream Kafka broker. Nothing connects until `await broker.start()` in a service's lifespan."""
    # FastStream logs every consumed message at `log_level`; DEBUG keeps that out of INFO logs (one line per batch
    # per service would drown everything else), while errors are still logged as errors.
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        request_timeout_ms=15_000,
        max_request_size=RECORD_MAX_BYTES,
        log_level=logging.DEBUG,
    )


async def broker_reachable(broker: KafkaBroker, timeout_s: float = 2.0) -> bool:
    """A real metadata round-trip with the cluster (used by /readyz)."""
    return await broker.ping(timeout=timeout_s)


async def create_topics(bootstrap_servers: str, specs: Iterable[TopicSpec], *, if_missing: bool = False) -> None:
    """Create topics (single-replica: the local broker, tests, benchmarks). `if_missing`: leave existing ones as they
    are instead of failing."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics()) if if_missing else set()
        wanted = [
            NewTopic(name=spec.name, num_partitions=spec.partitions, replication_factor=1,
                     topic_configs=dict(spec.configs))
            for spec in specs if spec.name not in existing
        ]  # fmt: skip
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError) if if_missing else contextlib.nullcontext():
                await admin.create_topics(wanted)
    finally:
        await admin.close()


async def delete_topics(bootstrap_servers: str, names: Sequence[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    await admin.start()
    try:
        await admin.delete_topics(list(names))
    finally:
        await admin.close()
