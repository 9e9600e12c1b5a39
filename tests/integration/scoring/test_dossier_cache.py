"""An applying process's cache of the dossiers it wrote (adapters/dossier_cache.py) is used only while the row
still holds what the process wrote: a write by anyone else between two of its batches — another scoring process
(a rebalance), an UPDATE outside the scoring write path (recompute, an operator) — moves the row's version, and the
next batch reads the row instead of the cached state. Figures end exactly as without the cache."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from services.scoring.adapters.audit_store import PostgresCounterAudit
from services.scoring.adapters.dossier_cache import DossierCache
from services.scoring.adapters.metrics import METRICS
from services.scoring.adapters.store import PostgresWriteStore
from services.scoring.adapters.units import UnitDirectory
from services.scoring.adapters.wire import ContractDecoder
from services.scoring.service.apply_batch import BatchApplier
from services.scoring.service.recompute import Comparison, compare
from shared.db import create_pool
from tests.integration.conftest import unique
from tests.integration.registry import subtree_counters
from tests.integration.scoring.harness import no_dead_letters, prepare_database
from tests.integration.scoring.test_concurrent_apply import batch

DOSSIERS = 300


@pytest.fixture
async def prefix(fresh_database: str) -> str:
    name = unique("k").replace("-", "")
    await prepare_database(fresh_database, name)
    return name


@pytest.fixture
async def pools(fresh_database: str) -> AsyncIterator[list[asyncpg.Pool]]:
    """Two pools, as two scoring processes have."""
    made = [await create_pool(fresh_database, max_size=2) for _ in range(2)]
    try:
        yield made
    finally:
        for pool in made:
            await pool.close()


async def cached_applier(pool: asyncpg.Pool, capacity: int = 10_000) -> tuple[BatchApplier, DossierCache]:
    directory = UnitDirectory(pool)
    await directory.load()
    cache = DossierCache(capacity)
    applier = BatchApplier(PostgresWriteStore(pool, cache), directory, ContractDecoder(), no_dead_letters, METRICS)
    return applier, cache


async def value_of(database_url: str, query: str) -> object:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


async def assert_figures_exact(database_url: str, prefix: str, received: int, payments: int, resolved: int) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        counters = await subtree_counters(conn, f"{prefix}.H26", "2026-09")
    finally:
        await conn.close()
    named = ("received", "payments", "resolved")
    assert tuple(counters.get(name, 0) for name in named) == (received, payments, resolved)
    assert counters["events"] == received + payments + resolved
    pool = await create_pool(database_url, max_size=2)
    try:
        comparison = await compare(PostgresCounterAudit(pool), datetime.now(UTC))
    finally:
        await pool.close()
    assert Comparison.differences(comparison.table, comparison.stored) == {}
    assert Comparison.differences(comparison.stored, comparison.rebuilt) == {}


async def test_own_writes_are_served_from_the_cache(
    fresh_database: str, prefix: str, pools: list[asyncpg.Pool]
) -> None:
    applier, cache = await cached_applier(pools[0])
    await applier.apply(batch(prefix, DOSSIERS, ("received",)))
    assert (cache.hits, cache.misses, len(cache)) == (0, 0, DOSSIERS)  # all new: nothing to look up
    await applier.apply(batch(prefix, DOSSIERS, ("payment",)))
    assert (cache.hits, cache.misses) == (DOSSIERS, 0)
    await applier.apply(batch(prefix, DOSSIERS, ("resolved",)))
    assert (cache.hits, cache.misses) == (2 * DOSSIERS, 0)
    await assert_figures_exact(fresh_database, prefix, DOSSIERS, DOSSIERS, DOSSIERS)


async def test_another_process_writing_between_two_batches_is_detected(
    fresh_database: str, prefix: str, pools: list[asyncpg.Pool]
) -> None:
    """Process A writes the receipts, process B (a rebalance moved the partitions) the payments, then A gets the
    resolutions: A's entries are of the receipts only, and taking them would drop B's payments from the state."""
    first, cache = await cached_applier(pools[0])
    second, _ = await cached_applier(pools[1])
    await first.apply(batch(prefix, DOSSIERS, ("received",)))
    await second.apply(batch(prefix, DOSSIERS, ("payment",)))
    await first.apply(batch(prefix, DOSSIERS, ("resolved",)))
    assert (cache.hits, cache.misses) == (0, DOSSIERS)
    both = "SELECT count(*) FROM dossiers WHERE state LIKE '%payment%' AND state LIKE '%resolved%'"
    assert await value_of(fresh_database, both) == DOSSIERS
    await assert_figures_exact(fresh_database, prefix, DOSSIERS, DOSSIERS, DOSSIERS)
    # The rows read back replaced the stale entries: the next batch (replayed duplicates) is served from memory.
    report = await first.apply(batch(prefix, DOSSIERS, ("resolved",)))
    assert (report.duplicates, cache.hits) == (DOSSIERS, DOSSIERS)


async def test_an_update_outside_the_scoring_write_path_moves_the_version(
    fresh_database: str, prefix: str, pools: list[asyncpg.Pool]
) -> None:
    """An UPDATE that does not set the version itself (recompute's month move, an operator's SQL) still moves it:
    the trigger of migration 0011."""
    applier, cache = await cached_applier(pools[0])
    await applier.apply(batch(prefix, DOSSIERS, ("received",)))
    conn = await asyncpg.connect(fresh_database)
    try:
        before = await conn.fetchval("SELECT sum(version) FROM dossiers")
        moved = f"{prefix}-D1"
        await conn.execute("UPDATE dossiers SET evaluated_month = evaluated_month WHERE dossier_id = $1", moved)
        after = await conn.fetchval("SELECT sum(version) FROM dossiers")
    finally:
        await conn.close()
    assert after == before + 1
    await applier.apply(batch(prefix, DOSSIERS, ("payment",)))
    assert (cache.hits, cache.misses) == (DOSSIERS - 1, 1)
    await assert_figures_exact(fresh_database, prefix, DOSSIERS, DOSSIERS, 0)


async def test_a_failed_batch_leaves_the_cache_as_the_rows_are(
    fresh_database: str, prefix: str, pools: list[asyncpg.Pool]
) -> None:
    """A transaction that rolls back installs nothing: the rows still hold the cached states."""
    applier, cache = await cached_applier(pools[0])
    await applier.apply(batch(prefix, DOSSIERS, ("received",)))
    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.execute("ALTER TABLE unit_month_counters ADD CONSTRAINT no_payments CHECK (counter <> 'payments')")
        with pytest.raises(asyncpg.CheckViolationError):
            await applier.apply(batch(prefix, DOSSIERS, ("payment",)))
        await conn.execute("ALTER TABLE unit_month_counters DROP CONSTRAINT no_payments")
    finally:
        await conn.close()
    hits = cache.hits
    await applier.apply(batch(prefix, DOSSIERS, ("payment",)))
    assert cache.hits - hits == DOSSIERS
    await assert_figures_exact(fresh_database, prefix, DOSSIERS, DOSSIERS, 0)
