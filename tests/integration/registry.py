"""Write a small unit registry straight into the `units` table (integration tests of scoring and alerts)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

INSERT_UNIT = """
INSERT INTO units (unit_id, name, level, parent_id, path) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (unit_id) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level,
    parent_id = EXCLUDED.parent_id, path = EXCLUDED.path
"""


async def insert_units(database_url: str, rows: Sequence[tuple[str, str, str, str | None]]) -> None:
    """rows: (unit_id, name, level, parent_id), parents before children."""
    paths: dict[str, list[str]] = {}
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            for unit_id, name, level, parent in rows:
                paths[unit_id] = [*paths[parent], unit_id] if parent else [unit_id]
                await conn.execute(INSERT_UNIT, unit_id, name, level, parent, paths[unit_id])
    finally:
        await conn.close()


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
