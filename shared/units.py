"""The unit registry (danh mục đơn vị, SPEC §1): parsing, tree validation, reload merge, tree walks.

Validation reports every problem at once, each with the 1-based record number of the offending row (for CSV:
row 1 is the first line after the header), so an operator can fix a whole file in one pass.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

CSV_HEADER = ("unit_id", "name", "level", "parent_id")
MAX_NAME_LENGTH = 200
_UNIT_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")


class UnitLevel(StrEnum):
    CITY = "city"  # thành phố
    DEPARTMENT = "department"  # sở, ban, ngành
    DISTRICT = "district"  # quận, huyện, thị xã
    COMMUNE = "commune"  # phường, xã, thị trấn


_LEVELS = frozenset(level.value for level in UnitLevel)
# The level a parent must have, per child level.
_PARENT_LEVEL = {
    UnitLevel.DEPARTMENT: UnitLevel.CITY,
    UnitLevel.DISTRICT: UnitLevel.CITY,
    UnitLevel.COMMUNE: UnitLevel.DISTRICT,
}


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
        return [
            {"unit_id": u.unit_id, "name": u.name, "level": str(u.level), "parent_id": u.parent_id or ""} for u in self
        ]

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_HEADER, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.as_rows())
        return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class ParsedUnits:
    records: list[UnitRecord]
    errors: list[UnitError] = field(default_factory=list)


def parse_units_csv(data: bytes | str) -> ParsedUnits:
    """Read a CSV registry (UTF-8; a leading byte-order mark from spreadsheet exports is tolerated)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as error:
            return ParsedUnits([], [_error(None, None, "invalid_encoding", "Tệp không phải UTF-8", str(error))])
    data = data.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(data, newline=""))
    header = next(reader, None)
    if header is None or tuple(header) != CSV_HEADER:
        expected = ",".join(CSV_HEADER)
        return ParsedUnits(
            [],
            [
                _error(
                    None, None, "invalid_header", f"Dòng tiêu đề phải là '{expected}'", f"header must be '{expected}'"
                )
            ],
        )
    records: list[UnitRecord] = []
    errors: list[UnitError] = []
    for row_number, row in enumerate(reader, start=1):
        if not row or row == [""]:
            continue
        if len(row) != len(CSV_HEADER):
            errors.append(
                _error(row_number, None, "invalid_row", f"Dòng có {len(row)} cột, cần 4", f"{len(row)} columns, need 4")
            )
            continue
        records.append(UnitRecord(row_number, *row))
    return ParsedUnits(records, errors)


def parse_units_json(data: object) -> ParsedUnits:
    """Read a JSON registry: an array of objects with the CSV's four fields (`parent_id` may be null)."""
    if not isinstance(data, list):
        return ParsedUnits([], [_error(None, None, "not_an_array", "Cần một mảng JSON", "expected a JSON array")])
    records: list[UnitRecord] = []
    errors: list[UnitError] = []
    for row_number, item in enumerate(data, start=1):
        if not isinstance(item, Mapping):
            errors.append(_error(row_number, None, "not_an_object", "Phần tử phải là đối tượng", "not an object"))
            continue
        records.append(
            UnitRecord(row_number, item.get("unit_id"), item.get("name"), item.get("level"), item.get("parent_id"))
        )
    return ParsedUnits(records, errors)


def build_registry(records: Iterable[UnitRecord]) -> UnitRegistry | list[UnitError]:
    """Validate rows as one tree; a registry when all is well, otherwise every error found."""
    errors: list[UnitError] = []
    units: dict[str, Unit] = {}
    rows: dict[str, int | None] = {}
    for record in records:
        unit = _validate_row(record, errors)
        if unit is None:
            continue
        if unit.unit_id in units:
            first = rows[unit.unit_id]
            errors.append(
                _error(
                    record.row,
                    "unit_id",
                    "duplicate_unit",
                    f"Mã đơn vị '{unit.unit_id}' trùng với dòng {first}",
                    f"unit_id '{unit.unit_id}' repeats row {first}",
                )
            )
            continue
        units[unit.unit_id] = unit
        rows[unit.unit_id] = record.row
    errors.extend(_tree_errors(units, rows))
    errors.sort(key=lambda e: (e.row is None, e.row or 0))
    return errors or UnitRegistry(units.values())


def _validate_row(record: UnitRecord, errors: list[UnitError]) -> Unit | None:
    row = record.row
    count = len(errors)
    unit_id, name, level, parent_id = record.unit_id, record.name, record.level, record.parent_id
    if not isinstance(unit_id, str) or not _UNIT_ID_RE.fullmatch(unit_id):
        errors.append(
            _error(row, "unit_id", "invalid_field", "Mã đơn vị: 1–64 ký tự [A-Za-z0-9._-]", "1–64 of [A-Za-z0-9._-]")
        )
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_LENGTH or not name.strip():
        errors.append(_error(row, "name", "invalid_field", "Tên đơn vị: 1–200 ký tự", "name: 1–200 characters"))
    elif not name.isprintable():
        errors.append(_error(row, "name", "invalid_field", "Tên có ký tự điều khiển", "name has control characters"))
    if not isinstance(level, str) or level not in _LEVELS:
        errors.append(
            _error(row, "level", "invalid_field", "Cấp phải là city/department/district/commune", "unknown level")
        )
    if parent_id in ("", None):
        parent_id = None
    elif not isinstance(parent_id, str) or not _UNIT_ID_RE.fullmatch(parent_id):
        errors.append(_error(row, "parent_id", "invalid_field", "Mã đơn vị cha không hợp lệ", "invalid parent_id"))
    if len(errors) > count:
        return None
    assert isinstance(unit_id, str) and isinstance(name, str) and isinstance(level, str)
    assert parent_id is None or isinstance(parent_id, str)
    return Unit(unit_id, name, UnitLevel(level), parent_id)


def _tree_errors(units: Mapping[str, Unit], rows: Mapping[str, int | None]) -> list[UnitError]:
    errors: list[UnitError] = []
    cities = [u for u in units.values() if u.level is UnitLevel.CITY]
    if not cities:
        errors.append(_error(None, "level", "no_city", "Thiếu đơn vị cấp thành phố", "the registry has no city"))
    for extra in sorted(cities, key=lambda u: (rows[u.unit_id] or 0, u.unit_id))[1:]:
        errors.append(
            _error(rows[extra.unit_id], "level", "multiple_cities", "Chỉ được có một thành phố", "only one city")
        )
    for unit in units.values():
        row = rows[unit.unit_id]
        if unit.level is UnitLevel.CITY:
            if unit.parent_id is not None:
                errors.append(
                    _error(row, "parent_id", "invalid_parent", "Thành phố không có đơn vị cha", "a city has no parent")
                )
            continue
        if unit.parent_id is None:
            errors.append(_error(row, "parent_id", "missing_parent", "Thiếu đơn vị cha", "parent_id is required"))
            continue
        parent = units.get(unit.parent_id)
        if parent is None:
            errors.append(
                _error(
                    row,
                    "parent_id",
                    "unknown_parent",
                    f"Đơn vị cha '{unit.parent_id}' không tồn tại",
                    f"parent '{unit.parent_id}' does not exist",
                )
            )
        elif parent.level is not _PARENT_LEVEL[unit.level]:
            need = _PARENT_LEVEL[unit.level]
            errors.append(
                _error(
                    row,
                    "parent_id",
                    "invalid_parent",
                    f"Đơn vị cấp {unit.level} phải thuộc một đơn vị cấp {need}",
                    f"a {unit.level}'s parent must be a {need}",
                )
            )
    errors.extend(_cycle_errors(units, rows))
    return errors


def _cycle_errors(units: Mapping[str, Unit], rows: Mapping[str, int | None]) -> list[UnitError]:
    """The level rules already exclude cycles in a valid file; this catches them when those rules fail too."""
    in_cycle: set[str] = set()
    settled: set[str] = set()
    for start in units:
        path: list[str] = []
        on_path: set[str] = set()
        current: str | None = start
        while current is not None and current in units and current not in settled:
            if current in on_path:
                in_cycle.update(path[path.index(current) :])
                break
            path.append(current)
            on_path.add(current)
            current = units[current].parent_id
        settled.update(path)
    return [
        _error(rows[unit_id], "parent_id", "cycle", "Quan hệ cha–con tạo vòng lặp", "parent links form a cycle")
        for unit_id in sorted(in_cycle)
    ]


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    """The result of a reload: the new registry and what changed, or every error (nothing applied)."""

    registry: UnitRegistry | None
    errors: list[UnitError]
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def merge_registry(
    existing: UnitRegistry | None,
    incoming: Iterable[UnitRecord],
    *,
    is_referenced: Callable[[str], bool] | Collection[str] = (),
    replace: bool = False,
) -> MergeOutcome:
    """Reload: upsert `incoming` over `existing`.

    By default units missing from `incoming` are kept (a file with only new communes is fine). With
    `replace=True` the file is the whole registry and missing units are removed — except a unit that events
    still reference, which makes the whole reload fail (`unit_in_use`). The merged tree is validated as a whole.
    """
    referenced = is_referenced if callable(is_referenced) else frozenset(is_referenced).__contains__
    incoming = list(incoming)
    incoming_ids = {record.unit_id for record in incoming if isinstance(record.unit_id, str)}
    kept: list[UnitRecord] = []
    removed: list[str] = []
    errors: list[UnitError] = []
    for unit in existing or ():
        if unit.unit_id in incoming_ids:
            continue
        if not replace:
            kept.append(UnitRecord(None, unit.unit_id, unit.name, str(unit.level), unit.parent_id))
        elif referenced(unit.unit_id):
            errors.append(
                _error(
                    None,
                    "unit_id",
                    "unit_in_use",
                    f"Không thể xóa đơn vị '{unit.unit_id}' vì đã có sự kiện tham chiếu",
                    f"unit '{unit.unit_id}' cannot be removed: events reference it",
                )
            )
        else:
            removed.append(unit.unit_id)
    built = build_registry([*incoming, *kept])
    if isinstance(built, list):
        errors = built + errors
    if errors:
        return MergeOutcome(None, errors)
    assert isinstance(built, UnitRegistry)
    added = sorted(uid for uid in incoming_ids if existing is None or uid not in existing)
    updated = sorted(
        uid for uid in incoming_ids if existing is not None and uid in existing and existing.get(uid) != built.get(uid)
    )
    return MergeOutcome(built, [], added, updated, sorted(removed))


def _error(row: int | None, field_name: str | None, code: str, vi: str, en: str) -> UnitError:
    return UnitError(row, field_name, code, f"{vi} / {en}" if row is None else f"Dòng {row}: {vi} / row {row}: {en}")
