"""The unit registry (danh mục đơn vị, SPEC §1): the units, their validity over time, and the tree walks.

Reading and validating registry files (CSV or JSON) and the reload merge live in `shared.unit_loading`; the names
`parse_units_csv`, `parse_units_json`, `ParsedUnits`, `build_registry`, `merge_registry` and `MergeOutcome` are
also importable from here, for the code that always did.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

# The full header; a file may stop after parent_id, valid_from or valid_to (SPEC §1: the last three may be left out).
CSV_HEADER = ("unit_id", "name", "level", "parent_id", "valid_from", "valid_to", "successor_id")
MAX_NAME_LENGTH = 200
UNIT_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")


class UnitLevel(StrEnum):
    CITY = "city"  # thành phố
    DEPARTMENT = "department"  # sở, ban, ngành
    DISTRICT = "district"  # quận, huyện, thị xã
    COMMUNE = "commune"  # phường, xã, thị trấn


@dataclass(frozen=True, slots=True)
class Unit:
    unit_id: str
    name: str
    level: UnitLevel
    parent_id: str | None
    valid_from: date | None = None
    """The first day (Vietnam time) on which the unit exists; None: since always."""
    valid_to: date | None = None
    """The first day on which it no longer exists; None while it exists. Then `successor_id` is set."""
    successor_id: str | None = None
    """The unit that took over a retired unit's dossiers (SPEC §1)."""

    def exists_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day < self.valid_to)

    def exists_during(self, first_day: date, end_day: date) -> bool:
        """Whether the unit exists at some day of [first_day, end_day) (a month: its first day, the next's)."""
        return (self.valid_from is None or self.valid_from < end_day) and (
            self.valid_to is None or self.valid_to > first_day
        )


@dataclass(frozen=True, slots=True)
class UnitRecord:
    """One row as read, before validation; `row` is its 1-based record number, None for kept existing units."""

    row: int | None
    unit_id: object
    name: object
    level: object
    parent_id: object
    valid_from: object = None
    valid_to: object = None
    successor_id: object = None


@dataclass(frozen=True, slots=True)
class UnitError:
    row: int | None
    field: str | None
    code: str
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "field": self.field, "error": self.code, "detail": self.detail}


class UnitRegistry:
    """A validated tree of units. Build it with `build_registry`; it is never mutated afterwards."""

    def __init__(self, units: Iterable[Unit]) -> None:
        self._units: dict[str, Unit] = {unit.unit_id: unit for unit in units}
        self._children: dict[str, list[str]] = {}
        for unit in self._units.values():
            if unit.parent_id is not None:
                self._children.setdefault(unit.parent_id, []).append(unit.unit_id)
        for child_ids in self._children.values():
            child_ids.sort()

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self._units

    def __len__(self) -> int:
        return len(self._units)

    def __iter__(self) -> Iterator[Unit]:
        return iter(sorted(self._units.values(), key=lambda unit: unit.unit_id))

    def exists(self, unit_id: str) -> bool:
        return unit_id in self._units

    def get(self, unit_id: str) -> Unit | None:
        return self._units.get(unit_id)

    @property
    def city(self) -> Unit | None:
        return next((unit for unit in self._units.values() if unit.level is UnitLevel.CITY), None)

    def children(self, unit_id: str) -> list[str]:
        return list(self._children.get(unit_id, ()))

    def ancestors(self, unit_id: str) -> list[str]:
        """Parent, grandparent, … up to the city (the unit itself excluded). Unknown unit → KeyError."""
        path: list[str] = []
        parent = self._units[unit_id].parent_id
        while parent is not None:
            path.append(parent)
            parent = self._units[parent].parent_id
        return path

    def descendants(self, unit_id: str) -> list[str]:
        """Every unit below `unit_id`, depth-first in id order (the unit itself excluded)."""
        if unit_id not in self._units:
            raise KeyError(unit_id)
        found: list[str] = []
        stack = list(reversed(self._children.get(unit_id, ())))
        while stack:
            current = stack.pop()
            found.append(current)
            stack.extend(reversed(self._children.get(current, ())))
        return found

    def effective_unit(self, unit_id: str, day: date) -> str:
        """SPEC §1: a fact dated `day` that names `unit_id` counts for it while it exists; once `day` ≥ its
        valid_to, for its successor, followed until a unit that exists that day (a fact dated before a unit's
        valid_from still counts for that unit). Unknown units map to themselves; a broken chain stops where it
        breaks (a validated registry has none)."""
        current = unit_id
        seen: set[str] = set()
        while True:
            unit = self._units.get(current)
            if unit is None or unit.valid_to is None or day < unit.valid_to or unit.successor_id is None:
                return current
            if current in seen:
                return current
            seen.add(current)
            current = unit.successor_id

    def predecessors(self, unit_id: str) -> list[str]:
        """Units whose successor is `unit_id`, in id order (merged into it)."""
        return sorted(u.unit_id for u in self._units.values() if u.successor_id == unit_id)

    def is_within(self, unit_id: str, root_id: str) -> bool:
        """True when `unit_id` is `root_id` or one of its descendants."""
        return unit_id == root_id or root_id in self.ancestors(unit_id)

    def as_rows(self) -> list[dict[str, str]]:
        """One dict per unit with the seven CSV columns (empty string for null), in unit_id order."""
        return [
            {
                "unit_id": u.unit_id,
                "name": u.name,
                "level": str(u.level),
                "parent_id": u.parent_id or "",
                "valid_from": u.valid_from.isoformat() if u.valid_from else "",
                "valid_to": u.valid_to.isoformat() if u.valid_to else "",
                "successor_id": u.successor_id or "",
            }
            for u in self
        ]

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_HEADER, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.as_rows())
        return buffer.getvalue()


def unit_error(row: int | None, field_name: str | None, code: str, vi: str, en: str) -> UnitError:
    """An error with the row in both languages: "Dòng 3: … / row 3: …" (no row: the whole file or a kept unit)."""
    return UnitError(row, field_name, code, f"{vi} / {en}" if row is None else f"Dòng {row}: {vi} / row {row}: {en}")


_LOADING_NAMES = frozenset(
    {"ParsedUnits", "MergeOutcome", "parse_units_csv", "parse_units_json", "build_registry", "merge_registry"}
)


def __getattr__(name: str) -> Any:
    """The loading functions, from `shared.unit_loading` (imported lazily: that module builds on this one)."""
    if name in _LOADING_NAMES:
        from shared import unit_loading

        return getattr(unit_loading, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
