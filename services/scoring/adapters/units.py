"""The unit registry as scoring sees it, and the tree its stored counters are summed up.

Names, levels and which units exist come from the registry (`units`, owned by ingest). Ancestors — which units a
fact is added to — come from `scoring_unit_tree`, the tree the stored sums are built on (migration 0006). `sync`
brings that tree to the registry's, re-rolling the stored sums in the same transaction (domain/tree.py), so that a
unit moved in the registry carries its history to its new ancestors. Batches hold the tree FOR SHARE
(`hold_tree`), so a re-roll waits for batches in flight and batches after it use the new tree.
"""

from __future__ import annotations

import logging
import time

import asyncpg

from services.scoring.adapters import store
from services.scoring.domain.apply import AncestorLookup
from services.scoring.domain.tree import retree_delta
from shared.units import Unit, UnitLevel, UnitRegistry

log = logging.getLogger(__name__)

SELECT_UNITS = "SELECT unit_id, name, level, parent_id FROM units"
SELECT_REGISTRY_TREE = "SELECT unit_id, parent_id FROM units"
SELECT_STORED_TREE = "SELECT unit_id, parent_id FROM scoring_unit_tree"
SELECT_GENERATION = "SELECT generation FROM scoring_tree_state WHERE id = 1"
HOLD_TREE = "SELECT generation FROM scoring_tree_state WHERE id = 1 FOR SHARE"
LOCK_TREE = "SELECT generation FROM scoring_tree_state WHERE id = 1 FOR UPDATE"
SELECT_ALL_COUNTERS = "SELECT unit_id, month, counter, value FROM unit_month_counters WHERE value <> 0"
# Units never leave the registry (ingest only upserts), but a unit missing from it keeps its place in the tree.
UPSERT_TREE = """
INSERT INTO scoring_unit_tree (unit_id, parent_id) SELECT * FROM unnest($1::text[], $2::text[])
ON CONFLICT (unit_id) DO UPDATE SET parent_id = EXCLUDED.parent_id
"""
BUMP_GENERATION = "UPDATE scoring_tree_state SET generation = generation + 1, synced_at = now() WHERE id = 1"


def _parents(rows: list[asyncpg.Record]) -> dict[str, str | None]:
    return {row["unit_id"]: row["parent_id"] for row in rows}


def _tree_differs(registry: dict[str, str | None], stored: dict[str, str | None]) -> bool:
    return any(unit not in stored or stored[unit] != parent for unit, parent in registry.items())


class UnitDirectory:
    """In-memory copies of the registry and of the counters' tree. `refresh_if_stale` re-reads them at most once
    per `min_interval_s`, so an event for a unit registered a moment ago is accepted, while a flood of unknown
    units costs one query a second."""

    def __init__(self, pool: asyncpg.Pool, min_interval_s: float = 1.0) -> None:
        self._pool = pool
        self._min_interval_s = min_interval_s
        self._loaded_at = 0.0
        self.registry = UnitRegistry(())
        self.ancestors = AncestorLookup({})
        self.generation = -1

    async def load(self) -> bool:
        """Bring the counters' tree to the registry's (see `sync`), then read both. Returns whether the tree was
        re-rolled."""
        resynced = await self.sync()
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            rows = await conn.fetch(SELECT_UNITS)
            tree = _parents(await conn.fetch(SELECT_STORED_TREE))
            generation = await conn.fetchval(SELECT_GENERATION)
        units = [Unit(r["unit_id"], r["name"], UnitLevel(r["level"]), r["parent_id"]) for r in rows]
        self.registry = UnitRegistry(units)
        self.ancestors = AncestorLookup(tree)
        self.generation = generation
        self._loaded_at = time.monotonic()
        return resynced

    async def refresh_if_stale(self) -> bool:
        if time.monotonic() - self._loaded_at < self._min_interval_s:
            return False
        await self.load()
        return True

    def exists(self, unit_id: str) -> bool:
        return self.registry.exists(unit_id)

    async def hold_tree(self, conn: asyncpg.Connection) -> AncestorLookup:
        """Inside a batch's transaction: lock the tree against re-rolls until the batch commits, and return the
        ancestors to add its facts to (re-read when another process re-rolled since we last looked)."""
        generation = await conn.fetchval(HOLD_TREE)
        if generation != self.generation:
            self.ancestors = AncestorLookup(_parents(await conn.fetch(SELECT_STORED_TREE)))
            self.generation = generation
        return self.ancestors

    async def sync(self) -> bool:
        """If the registry's tree differs from the counters' tree, re-roll the stored sums onto the registry's
        tree and store it, in one transaction. Returns whether anything changed."""
        async with self._pool.acquire() as conn:
            registry = _parents(await conn.fetch(SELECT_REGISTRY_TREE))
            if not _tree_differs(registry, _parents(await conn.fetch(SELECT_STORED_TREE))):
                return False
            async with conn.transaction():
                await conn.fetchval(LOCK_TREE)  # waits for the batches in flight; later ones wait for us
                registry = _parents(await conn.fetch(SELECT_REGISTRY_TREE))
                stored = _parents(await conn.fetch(SELECT_STORED_TREE))
                if not _tree_differs(registry, stored):
                    return False  # another scoring process synced meanwhile
                rows = await conn.fetch(SELECT_ALL_COUNTERS)
                table = {(r["unit_id"], r["month"], r["counter"]): r["value"] for r in rows}
                new_tree = {**stored, **registry}
                delta = retree_delta(table, stored, new_tree)
                if delta:
                    await conn.execute(store.ADD_TO_COUNTERS, *store.counter_columns(delta))
                changed = sorted(unit for unit, parent in registry.items() if stored.get(unit, parent) != parent)
                await conn.execute(UPSERT_TREE, list(registry), list(registry.values()))
                await conn.execute(BUMP_GENERATION)
        added = len(set(registry) - set(stored))
        log.info("unit tree synced with the registry: %d units added, %d moved %s; %d counter rows re-rolled",
                 added, len(changed), changed[:10], len(delta))  # fmt: skip
        return True
