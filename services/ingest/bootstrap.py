"""The ingest service's container: its use cases and the adapters they run on, built in the lifespan.

Routes get it with `Depends(container_dependency(Container))` (see `entrypoints/requests.py`); `app.py` publishes it
once `running_container` has connected the producer, loaded the registry and started listening for changes.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from services.ingest.adapters.caches import ChangeListener, KeyCache, RegistryCache
from services.ingest.adapters.key_store import PgKeyStore
from services.ingest.adapters.metrics import IngestMetrics
from services.ingest.adapters.producer import EventProducer, ProducerConfig
from services.ingest.adapters.registry_store import PgRegistryStore
from services.ingest.service.accept_events import AcceptEvents
from services.ingest.service.key_admin import KeyAdmin
from services.ingest.service.registry_admin import RegistryAdmin
from services.ingest.settings import IngestSettings
from shared.resources import Resources


@dataclass(frozen=True, slots=True)
class Container:
    settings: IngestSettings
    metrics: IngestMetrics
    registry: RegistryCache
    keys: KeyCache
    accept: AcceptEvents
    registry_admin: RegistryAdmin
    key_admin: KeyAdmin


def producer_config(settings: IngestSettings) -> ProducerConfig:
    return ProducerConfig(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic=settings.events_topic,
        timeout_s=settings.produce_timeout_s,
        linger_ms=settings.producer_linger_ms,
        compression=None if settings.producer_compression == "none" else settings.producer_compression,
    )


@contextlib.asynccontextmanager
async def running_container(
    settings: IngestSettings, resources: Resources, metrics: IngestMetrics
) -> AsyncIterator[Container]:
    """Connect the producer (fails at start when the topic is missing), load the registry, listen for registry and
    key changes; yield the container; stop the listener and flush the producer on the way out."""
    producer = EventProducer(producer_config(settings))
    await producer.start()
    metrics.watch_producer(lambda: producer.connected)
    registry = RegistryCache(resources.pool, miss_refresh_s=settings.registry_miss_refresh_s)
    keys = KeyCache(resources.pool, ttl_s=settings.key_cache_ttl_s)
    listener = ChangeListener(settings.database_url, registry, keys, period_s=settings.registry_refresh_s)
    try:
        await registry.reload()
        await listener.start()
        yield Container(
            settings=settings,
            metrics=metrics,
            registry=registry,
            keys=keys,
            accept=AcceptEvents(producer, registry, metrics, max_event_bytes=settings.max_event_bytes),
            registry_admin=RegistryAdmin(PgRegistryStore(resources.pool), registry),
            key_admin=KeyAdmin(PgKeyStore(resources.pool), registry, keys),
        )
    finally:
        await listener.stop()
        await producer.stop()
