"""The operator's registry work (admin endpoints and CLI alike): load units, add/re-point/delete aliases.

Every write is followed by a reload of this process's registry copy, so the answer and the next request see it;
other processes learn of it through the store's notification.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.ingest.domain.aliases import AliasRow, ParsedAliases, validate_aliases
from services.ingest.service.ports import RegistryStore, RegistryView
from shared.unit_loading import MergeOutcome
from shared.units import UnitRecord


class RegistryAdmin:
    def __init__(self, store: RegistryStore, view: RegistryView) -> None:
        self._store = store
        self._view = view

    async def load_units(self, records: Iterable[UnitRecord]) -> MergeOutcome:
        """Merge `records` over the stored registry as one tree over time; all or nothing (`outcome.registry` is
        None with every error when refused)."""
        outcome = await self._store.upsert_units(records)
        if outcome.registry is not None:
            await self._view.reload()
        return outcome

    async def aliases(self) -> dict[str, str]:
        """Every alias as stored right now (alias → unit_id), sorted by alias."""
        await self._view.reload()
        return dict(sorted(self._view.aliases.items()))

    async def put_aliases(self, rows: list[AliasRow]) -> ParsedAliases:
        """Add or re-point aliases once every target unit is known; with any error nothing is written."""
        await self._view.reload()
        parsed = validate_aliases(rows, self._view.registry)
        if parsed.errors:
            return parsed
        await self._store.upsert_aliases(parsed.aliases)
        await self._view.reload()
        return parsed

    async def delete_alias(self, alias: str) -> bool:
        """False when there is no such alias."""
        if not await self._store.delete_alias(alias):
            return False
        await self._view.reload()
        return True
