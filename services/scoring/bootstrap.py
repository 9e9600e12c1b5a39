"""The scoring service's one container: its adapters and use cases, built in the lifespan (never at import time).

`build_container` is awaited before the broker starts (shared/resources.open_resources), so the subscriber never
sees a batch before the applier exists; the container then reaches routes (`Annotated[Container,
Depends(container_dependency(Container))]`) and subscribers (`Context("container")`) through shared/bootstrap.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.scoring.adapters.dossier_queries import PgDossiers
from services.scoring.adapters.gc import cyclic_gc_paused
from services.scoring.adapters.metrics import METRICS
from services.scoring.adapters.profile_file import ProfileStore
from services.scoring.adapters.queries import PgDeadLetters, PgFigures
from services.scoring.adapters.store import PostgresWriteStore
from services.scoring.adapters.units import UnitDirectory
from services.scoring.adapters.upkeep import PgTableUpkeep
from services.scoring.adapters.wire import ContractDecoder
from services.scoring.domain.catch_up import CATCHING_UP_AFTER_S
from services.scoring.service.actions import ActionsReader
from services.scoring.service.apply_batch import BatchApplier
from services.scoring.service.ports import DeadLetterPublisher
from services.scoring.service.publisher import IndicatorsPublisher
from services.scoring.service.read_ports import MessagePublisher
from services.scoring.service.reading import ScoringReader
from services.scoring.service.refresh_budget import RefreshBudget
from services.scoring.service.unit_gauges import UnitGaugeExporter
from services.scoring.service.upkeep import UpkeepAfterCatchingUp
from services.scoring.settings import APPLYING_ROLES, ScoringSettings


@dataclass(frozen=True)
class Outlets:
    """Where the service publishes (Kafka publishers registered on the broker before it starts)."""

    dead_letters: DeadLetterPublisher
    indicators: MessagePublisher


@dataclass
class Container:
    settings: ScoringSettings
    pool: asyncpg.Pool
    directory: UnitDirectory
    applier: BatchApplier
    """Apply a consumed batch; re-apply dead letters; roll open dossiers into a new month (service/apply_batch.py)."""
    reader: ScoringReader
    """The read tables and the figures read from them (service/reading.py)."""
    publisher: IndicatorsPublisher
    """Sends `unit-indicators` for the units batches marked (service/publisher.py)."""
    actions: ActionsReader
    """The to-do list, the forecast, a unit's open dossiers, one dossier (service/actions.py)."""
    dossiers: PgDossiers
    """Dossier-level reads (the overdue / due-soon pages, the notice's annex)."""
    dead_letters: PgDeadLetters
    """The dead-letter table as the admin routes list and discard it."""
    gauges: UnitGaugeExporter
    """The per-unit gauges of `/metrics`, refreshed from the read tables at each scrape (service/unit_gauges.py)."""
    upkeep: UpkeepAfterCatchingUp
    """VACUUM (ANALYZE) of the dossiers once a back-fill has caught up or drained (service/upkeep.py)."""

    @property
    def applies(self) -> bool:
        """This process consumes `dossier-events` and applies batches (SCORING_ROLE all or consumer); an `api`
        process only reads, and applies nothing but an operator's explicit dead-letter redrive."""
        return self.settings.scoring_role in APPLYING_ROLES

    @property
    def serves_readers(self) -> bool:
        """Readers are sent here (SCORING_ROLE all or api): the read tables are warmed at start."""
        return self.settings.scoring_role != "consumer"


async def build_container(settings: ScoringSettings, pool: asyncpg.Pool, outlets: Outlets) -> Container:
    directory = UnitDirectory(pool)
    await directory.load()
    reader = ScoringReader(
        PgFigures(pool),
        directory,
        ProfileStore(settings.profile_path),
        ranking_ttl_s=settings.read_cache_ttl_s,
        live_tick_s=settings.live_tick_s,
        refresh_s=settings.read_refresh_s,
        token_min_s=settings.read_token_min_s,
        on_fresh=METRICS.observe_fresh,
        budget=RefreshBudget(rest_factor=settings.read_refresh_rest),
    )
    applier = build_applier(pool, directory, outlets.dead_letters, settings.catching_up_after_s)
    publisher = IndicatorsPublisher(reader, outlets.indicators, settings.indicators_interval_s)
    dossiers = PgDossiers(pool)
    actions = ActionsReader(reader, dossiers)
    return Container(
        settings, pool, directory, applier, reader, publisher, actions, dossiers, PgDeadLetters(pool),
        UnitGaugeExporter(reader, METRICS), UpkeepAfterCatchingUp(PgTableUpkeep(pool), applier.activity),
    )  # fmt: skip


def build_applier(
    pool: asyncpg.Pool,
    directory: UnitDirectory,
    dead_letters: DeadLetterPublisher,
    catching_up_after_s: float = CATCHING_UP_AFTER_S,
) -> BatchApplier:
    """The apply-a-batch use case on PostgreSQL, the contract's decoder and the service's metrics."""
    return BatchApplier(
        PostgresWriteStore(pool), directory, ContractDecoder(), dead_letters, METRICS,
        hot_section=cyclic_gc_paused, catching_up_after_s=catching_up_after_s,
    )  # fmt: skip
