"""Write a small unit registry straight into the `units` table (integration tests of scoring and alerts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

INSERT_UNIT = """
INSERT INTO units (unit_id, name, level, parent_id, path, valid_from, valid_to, successor_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (unit_id) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level,
    parent_id = EXCLUDED.parent_id, path = EXCLUDED.path, valid_from = EXCLUDED.valid_from,
    valid_to = EXCLUDED.valid_to, successor_id = EXCLUDED.successor_id, updated_at = now()
"""
SELECT_PATH = "SELECT path FROM units WHERE unit_id = $1"

UnitRow = tuple[Any, ...]
"""(unit_id, name, level, parent_id[, valid_from, valid_to, successor_id]) — dates as datetime.date."""


async def insert_units(database_url: str, rows: Sequence[UnitRow]) -> None:
    """Upsert units as ingest's registry load writes them; parents before children (or already stored)."""
    paths: dict[str, list[str]] = {}
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            for unit_id, name, level, parent, *validity in rows:
                if parent and parent not in paths:
                    paths[parent] = list(await conn.fetchval(SELECT_PATH, parent))
                paths[unit_id] = [*paths[parent], unit_id] if parent else [unit_id]
                valid_from, valid_to, successor = (*validity, None, None, None)[:3]
                await conn.execute(INSERT_UNIT, unit_id, name, level, parent, paths[unit_id], valid_from, valid_to,
                                   successor)  # fmt: skip
    finally:
        await conn.close()


# The stored counters are each unit's OWN (migration 0007): a unit's figures are the sum over its subtree. For tests
# whose registry has no retirements, the current tree's paths are enough to sum them in SQL.
SUBTREE_COUNTER = """
SELECT coalesce(sum(c.value), 0)::bigint
FROM unit_month_counters c JOIN units u ON u.unit_id = c.unit_id
WHERE u.path @> ARRAY[$1::text] AND c.month = $2 AND c.counter = $3
"""
SUBTREE_COUNTERS = """
SELECT c.counter, sum(c.value)::bigint AS value
FROM unit_month_counters c JOIN units u ON u.unit_id = c.unit_id
WHERE u.path @> ARRAY[$1::text] AND c.month = $2
GROUP BY c.counter
"""


async def subtree_counter(conn: asyncpg.Connection, unit_id: str, month: str, counter: str) -> int:
    """One counter of a unit and its subtree (a registry without retirements)."""
    return int(await conn.fetchval(SUBTREE_COUNTER, unit_id, month, counter))


async def subtree_counters(conn: asyncpg.Connection, unit_id: str, month: str) -> dict[str, int]:
    return {row["counter"]: int(row["value"]) for row in await conn.fetch(SUBTREE_COUNTERS, unit_id, month)}


def small_registry(prefix: str) -> list[tuple[str, str, str, str | None]]:
    """A city with two departments and two districts of two communes each; ids prefixed to stay unique."""
    city = f"{prefix}.H26"
    return [
        (city, "Thành phố Hà Nội", "city", None),
        (f"{prefix}.STP", "Sở Tư pháp", "department", city),
        (f"{prefix}.SXD", "Sở Xây dựng", "department", city),
        (f"{prefix}.BD", "Quận Ba Đình", "district", city),
        (f"{prefix}.BD.PX", "Phường Phúc Xá", "commune", f"{prefix}.BD"),
        (f"{prefix}.BD.TB", "Phường Trúc Bạch", "commune", f"{prefix}.BD"),
        (f"{prefix}.BV", "Huyện Ba Vì", "district", city),
        (f"{prefix}.BV.TT", "Thị trấn Tây Đằng", "commune", f"{prefix}.BV"),
        (f"{prefix}.BV.BT", "Xã Ba Trại", "commune", f"{prefix}.BV"),
    ]
