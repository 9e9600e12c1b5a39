"""Reads and checks a unit registry CSV (SPEC §1): `unit_id,name,level,parent_id,valid_from,valid_to,successor_id`.

The last three columns may be left out (four-, five- and six-column files are read too). The checks here are the
simulator's own, lighter than ingest's (`shared.unit_loading`): the tree, dates, and successor links.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

LEVELS = ("city", "department", "district", "commune")
_UNIT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HEADER = ["unit_id", "name", "level", "parent_id", "valid_from", "valid_to", "successor_id"]
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# The parent levels each level may hang under (SPEC §1: a commune under a district or, since 2025, the city).
_PARENT_LEVELS = {"department": ("city",), "district": ("city",), "commune": ("district", "city")}

DEFAULT_REGISTRY = Path(__file__).resolve().parent.parent / "data" / "hanoi_registry.csv"
# Resolution 1656/NQ-UBTVQH15's old → new mapping (whole or part), used to split a retired unit's volume.
DEFAULT_SPLITS = Path(__file__).resolve().parent.parent / "data" / "hanoi_reform_2025.csv"
_SPLITS_HEADER = ["old_unit_id", "new_unit_id", "share", "article"]


class RegistryError(ValueError):
    """The registry file breaks a SPEC §1 rule."""


@dataclass(frozen=True, slots=True)
class Unit:
    unit_id: str
    name: str
    level: str
    parent_id: str | None
    valid_from: date | None = None
    """First day on which the unit exists; None: since always."""
    valid_to: date | None = None
    """First day on which it no longer exists; None while it exists (then `successor_id` is set)."""
    successor_id: str | None = None


def load_units(path: str | Path = DEFAULT_REGISTRY) -> list[Unit]:
    """Parse and validate a registry; returns units in file order. Raises RegistryError on any broken rule."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or len(header) < 4 or header != _HEADER[: len(header)]:
            raise RegistryError(f"header must be {','.join(_HEADER)} (the last three may be left out), got {header}")
        units = [_parse_row(n, row, len(header)) for n, row in enumerate(reader, start=2) if row]
    _check_tree(units)
    return units


def _parse_row(line: int, row: list[str], width: int) -> Unit:
    if len(row) != width:
        raise RegistryError(f"line {line}: expected {width} columns, got {len(row)}")
    unit_id, name, level, parent_id, valid_from, valid_to, successor_id = [*row, "", "", ""][:7]
    if not _UNIT_ID.fullmatch(unit_id):
        raise RegistryError(f"line {line}: unit_id {unit_id!r} must be 1–64 chars of [A-Za-z0-9._-]")
    if not 1 <= len(name) <= 200:
        raise RegistryError(f"line {line}: name must be 1–200 characters")
    if level not in LEVELS:
        raise RegistryError(f"line {line}: level {level!r} is not one of {LEVELS}")
    start, end = _date(line, valid_from), _date(line, valid_to)
    if (end is None) != (not successor_id):
        raise RegistryError(f"line {line}: valid_to and successor_id go together")
    if start is not None and end is not None and end <= start:
        raise RegistryError(f"line {line}: valid_to must be after valid_from")
    return Unit(unit_id, name, level, parent_id or None, start, end, successor_id or None)


def _date(line: int, text: str) -> date | None:
    if not text:
        return None
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise RegistryError(f"line {line}: {text!r} is not a YYYY-MM-DD date") from None


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
        if parent is None or parent.level not in _PARENT_LEVELS[unit.level]:
            raise RegistryError(
                f"{unit.unit_id}: a {unit.level} needs a {' or '.join(_PARENT_LEVELS[unit.level])} parent"
            )
        if unit.successor_id is not None and (unit.successor_id not in by_id or unit.successor_id == unit.unit_id):
            raise RegistryError(f"{unit.unit_id}: successor {unit.successor_id} is unknown or the unit itself")


def load_splits(path: str | Path = DEFAULT_SPLITS) -> dict[str, list[tuple[str, str]]]:
    """A reorganisation's old → new mapping: old unit id → [(new unit id, 'whole' | 'part'), …] in file order.

    The simulator uses it to hand a retired unit's volume to the units that took it over (`data/hanoi_reform_2025.csv`).
    """
    out: dict[str, list[tuple[str, str]]] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header != _SPLITS_HEADER:
            raise RegistryError(f"header must be {','.join(_SPLITS_HEADER)}, got {header}")
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != 4 or row[2] not in ("whole", "part"):
                raise RegistryError(f"line {line}: expected old_unit_id,new_unit_id,whole|part,article")
            out.setdefault(row[0], []).append((row[1], row[2]))
    return out
