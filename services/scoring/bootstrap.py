"""The scoring service's container: its use cases and the adapters they run on, built in the lifespan.

Minimal on this branch (the read side): the write-side refactor brings `build_container` and fills the rest; routes
read it with `Annotated[Container, Depends(container_dependency(Container))]` (shared/bootstrap.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.scoring.adapters.dossier_queries import PgDossiers
from services.scoring.adapters.queries import PgDeadLetters
from services.scoring.adapters.units import UnitDirectory
from services.scoring.applier import BatchApplier
from services.scoring.service.actions import ActionsReader
from services.scoring.service.publisher import IndicatorsPublisher
from services.scoring.service.reading import ScoringReader
from services.scoring.settings import ScoringSettings


@dataclass
class Container:
    settings: ScoringSettings
    pool: asyncpg.Pool
    directory: UnitDirectory
    applier: BatchApplier
    reader: ScoringReader
    """The read tables and the figures read from them (service/reading.py)."""
    publisher: IndicatorsPublisher
    """Publishes `unit-indicators` after committed batches (service/publisher.py)."""
    actions: ActionsReader
    """The to-do list, the forecast, a unit's open dossiers, one dossier (service/actions.py)."""
    dossiers: PgDossiers
    """Dossier-level reads (the overdue / due-soon pages, the notice's annex)."""
    dead_letters: PgDeadLetters
    """The dead-letter table as the admin routes list and discard it."""
