"""Reads and checks a unit registry CSV (SPEC §1): `unit_id,name,level,parent_id`."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

LEVELS = ("city", "department", "district", "commune")
_UNIT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HEADER = ["unit_id", "name", "level", "parent_id"]
# The parent level each level must hang under (SPEC §1).
_PARENT_LEVEL = {"department": "city", "district": "city", "commune": "district"}

DEFAULT_REGISTRY = Path(__file__).resolve().parent.parent / "data" / "hanoi_units.csv"


class RegistryError(ValueError):
    """The registry file breaks a SPEC §1 rule."""


@dataclass(frozen=True, slots=True)
class Unit:
    unit_id: str
    name: str
    level: str
    parent_id: str | None


def load_units(path: str | Path = DEFAULT_REGISTRY) -> list[Unit]:
    """Parse and validate a registry; returns units in file order. Raises RegistryError on any broken rule."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header != _HEADER:
            raise RegistryError(f"header must be exactly {','.join(_HEADER)}, got {header}")
        units = [_parse_row(n, row) for n, row in enumerate(reader, start=2) if row]
    _check_tree(units)
    return units


def _parse_row(line: int, row: list[str]) -> Unit:
    if len(row) != 4:
        raise RegistryError(f"line {line}: expected 4 columns, got {len(row)}")
    unit_id, name, level, parent_id = row
    if not _UNIT_ID.fullmatch(unit_id):
        raise RegistryError(f"line {line}: unit_id {unit_id!r} must be 1–64 chars of [A-Za-z0-9._-]")
    if not 1 <= len(name) <= 200:
        raise RegistryError(f"line {line}: name must be 1–200 characters")
    if level not in LEVELS:
        raise RegistryError(f"line {line}: level {level!r} is not one of {LEVELS}")
    return Unit(unit_id, name, level, parent_id or None)


def _check_tree(units: list[Unit]) -> None:
    by_id: dict[str, Unit] = {}
    for unit in units:
        if unit.unit_id in by_id:
            raise RegistryError(f"duplicate unit_id {unit.unit_id}")
        by_id[unit.unit_id] = unit
    cities = [u for u in units if u.level == "city"]
    if len(cities) != 1 or cities[0].parent_id is not None:
        raise RegistryError("exactly one city, without parent, is required")
    for unit in units:
        if unit.level == "city":
            continue
        parent = by_id.get(unit.parent_id or "")
        if parent is None or parent.level != _PARENT_LEVEL[unit.level]:
            raise RegistryError(f"{unit.unit_id}: a {unit.level} needs a {_PARENT_LEVEL[unit.level]} parent")
