"""The scoring service's one container: its adapters and use cases, built in the lifespan (never at import time).

`build_container` is awaited before the broker starts (shared/resources.open_resources), so the subscriber never
sees a batch before the applier exists; the container then reaches routes and subscribers through
shared/bootstrap.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.scoring.adapters.gc import cyclic_gc_paused
from services.scoring.adapters.metrics import METRICS
from services.scoring.adapters.store import PostgresWriteStore
from services.scoring.adapters.units import UnitDirectory
from services.scoring.adapters.wire import ContractDecoder
from services.scoring.publisher import IndicatorsPublisher, Publish
from services.scoring.reading import ProfileStore, ScoringReader
from services.scoring.service.apply_batch import BatchApplier
from services.scoring.service.ports import DeadLetterPublisher
from services.scoring.settings import ScoringSettings


@dataclass(frozen=True)
class Outlets:
    """Where the service publishes (Kafka publishers registered on the broker before it starts)."""

    dead_letters: DeadLetterPublisher
    indicators: Publish


@dataclass
class Container:
    settings: ScoringSettings
    pool: asyncpg.Pool
    directory: UnitDirectory
    applier: BatchApplier
    """Apply a consumed batch; re-apply dead letters; roll open dossiers into a new month."""
    reader: ScoringReader
    publisher: IndicatorsPublisher
    """Sends `unit-indicators` for the units batches marked."""


async def build_container(settings: ScoringSettings, pool: asyncpg.Pool, outlets: Outlets) -> Container:
    directory = UnitDirectory(pool)
    await directory.load()
    reader = ScoringReader(
        pool,
        directory,
        ProfileStore(settings.profile_path),
        ranking_ttl_s=settings.read_cache_ttl_s,
        live_tick_s=settings.live_tick_s,
    )
    applier = build_applier(pool, directory, outlets.dead_letters)
    publisher = IndicatorsPublisher(reader, outlets.indicators, settings.indicators_interval_s)
    return Container(settings, pool, directory, applier, reader, publisher)


def build_applier(pool: asyncpg.Pool, directory: UnitDirectory, dead_letters: DeadLetterPublisher) -> BatchApplier:
    """The apply-a-batch use case on PostgreSQL, the contract's decoder and the service's metrics."""
    return BatchApplier(
        PostgresWriteStore(pool), directory, ContractDecoder(), dead_letters, METRICS, hot_section=cyclic_gc_paused
    )
