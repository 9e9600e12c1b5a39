"""Reading a unit registry (CSV or JSON, SPEC §1), validating it as one tree over time, and the reload merge.

Validation reports every problem at once, each with the 1-based record number of the offending row (for CSV:
row 1 is the first line after the header), so an operator can fix a whole file in one pass. The rules for
validity and successors (and the month-start deviation) are in `shared.unit_validity`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from shared.unit_validity import cycle_errors, read_validity, successor_errors
from shared.units import (
    CSV_HEADER,
    MAX_NAME_LENGTH,
    UNIT_ID_RE,
    Unit,
    UnitError,
    UnitLevel,
    UnitRecord,
    UnitRegistry,
)
from shared.units import unit_error as _error

# A file may stop after parent_id, valid_from or valid_to: four-column files of before validity keep working.
CSV_HEADERS = tuple(CSV_HEADER[:count] for count in range(4, len(CSV_HEADER) + 1))
_LEVELS = frozenset(level.value for level in UnitLevel)
# The levels a parent may have, per child level (SPEC §1: since Hanoi's 2025 reorganisation communes may hang
# directly under the city).
_PARENT_LEVELS = {
    UnitLevel.DEPARTMENT: (UnitLevel.CITY,),
    UnitLevel.DISTRICT: (UnitLevel.CITY,),
    UnitLevel.COMMUNE: (UnitLevel.DISTRICT, UnitLevel.CITY),
}


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
    header = tuple(next(reader, ()))
    if header not in CSV_HEADERS:
        expected = ",".join(CSV_HEADER)
        vi = f"Dòng tiêu đề phải là '{expected}' (có thể bỏ 3 cột cuối)"
        en = f"header must be '{expected}' (the last three columns may be left out)"
        return ParsedUnits([], [_error(None, None, "invalid_header", vi, en)])
    width = len(header)
    records: list[UnitRecord] = []
    errors: list[UnitError] = []
    for row_number, row in enumerate(reader, start=1):
        if not row or row == [""]:
            continue
        if len(row) != width:
            errors.append(
                _error(
                    row_number,
                    None,
                    "invalid_row",
                    f"Dòng có {len(row)} cột, cần {width}",
                    f"{len(row)} columns, need {width}",
                )
            )
            continue
        records.append(UnitRecord(row_number, *row))
    return ParsedUnits(records, errors)


def parse_units_json(data: object) -> ParsedUnits:
    """Read a JSON registry: an array of objects with the CSV's fields (absent or null = empty)."""
    if not isinstance(data, list):
        return ParsedUnits([], [_error(None, None, "not_an_array", "Cần một mảng JSON", "expected a JSON array")])
    records: list[UnitRecord] = []
    errors: list[UnitError] = []
    for row_number, item in enumerate(data, start=1):
        if not isinstance(item, Mapping):
            errors.append(_error(row_number, None, "not_an_object", "Phần tử phải là đối tượng", "not an object"))
            continue
        records.append(UnitRecord(row_number, *(item.get(name) for name in CSV_HEADER)))
    return ParsedUnits(records, errors)


def build_registry(records: Iterable[UnitRecord]) -> UnitRegistry | list[UnitError]:
    """Validate rows as one tree over time; a registry when all is well, otherwise every error found."""
    errors: list[UnitError] = []
    units: dict[str, Unit] = {}
    rows: dict[str, int | None] = {}
    unchecked: set[str] = set()
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
        validity = read_validity(record, errors)
        if validity is None:
            unchecked.add(unit.unit_id)  # reported; the unit still takes part in the tree checks
        else:
            unit = dataclasses.replace(
                unit, valid_from=validity.valid_from, valid_to=validity.valid_to, successor_id=validity.successor_id
            )
        units[unit.unit_id] = unit
        rows[unit.unit_id] = record.row
    errors.extend(_tree_errors(units, rows))
    errors.extend(successor_errors(units, rows, unchecked))
    errors.sort(key=lambda e: (e.row is None, e.row or 0))
    return errors or UnitRegistry(units.values())


def _validate_row(record: UnitRecord, errors: list[UnitError]) -> Unit | None:
    """The row's tree fields (id, name, level, parent); validity is read separately (`read_validity`)."""
    row = record.row
    count = len(errors)
    unit_id, name, level, parent_id = record.unit_id, record.name, record.level, record.parent_id
    if not isinstance(unit_id, str) or not UNIT_ID_RE.fullmatch(unit_id):
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
    elif not isinstance(parent_id, str) or not UNIT_ID_RE.fullmatch(parent_id):
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
        elif parent.level not in _PARENT_LEVELS[unit.level]:
            need_vi = " hoặc ".join(_PARENT_LEVELS[unit.level])
            need_en = " or ".join(_PARENT_LEVELS[unit.level])
            errors.append(
                _error(
                    row,
                    "parent_id",
                    "invalid_parent",
                    f"Đơn vị cấp {unit.level} phải thuộc một đơn vị cấp {need_vi}",
                    f"a {unit.level}'s parent must be a {need_en}",
                )
            )
    errors.extend(_cycle_errors(units, rows))
    return errors


def _cycle_errors(units: Mapping[str, Unit], rows: Mapping[str, int | None]) -> list[UnitError]:
    """The level rules already exclude cycles in a valid file; this catches them when those rules fail too."""
    return cycle_errors(units, rows, "parent_id", "cycle", "Quan hệ cha–con tạo vòng lặp", "parent links form a cycle")


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

    By default units missing from `incoming` are kept, with their validity and successor (a file with only new
    communes is fine). With `replace=True` the file is the whole registry and missing units are removed — except a
    unit that events still reference, which makes the whole reload fail (`unit_in_use`). Ids are never reused for
    another unit: a reload may change a unit's name, parent and validity but not its level (`level_changed`).
    The merged tree is validated as a whole.
    """
    referenced = is_referenced if callable(is_referenced) else frozenset(is_referenced).__contains__
    incoming = list(incoming)
    incoming_ids = {record.unit_id for record in incoming if isinstance(record.unit_id, str)}
    kept: list[UnitRecord] = []
    removed: list[str] = []
    errors: list[UnitError] = []
    if existing is not None:
        errors.extend(_level_changes(existing, incoming))
    for unit in existing or ():
        if unit.unit_id in incoming_ids:
            continue
        if not replace:
            kept.append(_kept_record(unit))
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
        errors.sort(key=lambda e: (e.row is None, e.row or 0))
    if errors:
        return MergeOutcome(None, errors)
    assert isinstance(built, UnitRegistry)
    added = sorted(uid for uid in incoming_ids if existing is None or uid not in existing)
    updated = sorted(
        uid for uid in incoming_ids if existing is not None and uid in existing and existing.get(uid) != built.get(uid)
    )
    return MergeOutcome(built, [], added, updated, sorted(removed))


def _level_changes(existing: UnitRegistry, incoming: Iterable[UnitRecord]) -> list[UnitError]:
    errors: list[UnitError] = []
    for record in incoming:
        unit = existing.get(record.unit_id) if isinstance(record.unit_id, str) else None
        if unit is None or not isinstance(record.level, str) or record.level not in _LEVELS:
            continue
        if record.level != unit.level:
            errors.append(
                _error(
                    record.row,
                    "level",
                    "level_changed",
                    f"Không được đổi cấp của đơn vị '{unit.unit_id}' ({unit.level} → {record.level}); mã đơn vị "
                    "không dùng lại cho đơn vị khác",
                    f"unit '{unit.unit_id}' cannot change level ({unit.level} → {record.level}): ids are never "
                    "reused for another unit",
                )
            )
    return errors


def _kept_record(unit: Unit) -> UnitRecord:
    """An existing unit the reload does not mention, as a record without a row (errors on it say so)."""
    fields = (unit.unit_id, unit.name, str(unit.level), unit.parent_id, unit.valid_from, unit.valid_to)
    return UnitRecord(None, *fields, unit.successor_id)
