"""Validity over time and successors (SPEC §1): the rules for `valid_from`, `valid_to` and `successor_id`.

**Deviation from SPEC §1, kept on purpose:** `valid_from` and `valid_to` must be the first day of a month
(`boundary_not_month_start`). Figures are kept as monthly counters (SPEC §4–§5), so the month is the unit of
account: a boundary inside a month would split one month's dossiers of a unit between it and its successor by day,
and "the figures of unit u for month M" would stop being one answer. Hanoi's reorganisation took effect on
1 July 2025, a month start; a reorganisation dated otherwise is registered from the next month's first day.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from operator import attrgetter
from typing import Literal

from shared.units import UNIT_ID_RE, Unit, UnitError, UnitLevel, UnitRecord, unit_error

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class Validity:
    valid_from: date | None
    valid_to: date | None
    successor_id: str | None


def read_validity(record: UnitRecord, errors: list[UnitError]) -> Validity | None:
    """The row's validity, checked on its own (dates, order, successor present iff retired, not itself).

    None, with the errors appended, when any of it is unusable; the registry-wide rules then skip this unit.
    """
    row, count = record.row, len(errors)
    valid_from = _read_date(row, "valid_from", record.valid_from, errors)
    valid_to = _read_date(row, "valid_to", record.valid_to, errors)
    successor = record.successor_id
    if successor in ("", None):
        successor = None
    elif not isinstance(successor, str) or not UNIT_ID_RE.fullmatch(successor):
        errors.append(
            unit_error(row, "successor_id", "invalid_field", "Mã đơn vị kế thừa không hợp lệ", "invalid successor_id")
        )
    if len(errors) > count:
        return None
    assert successor is None or isinstance(successor, str)
    if valid_from is not None and valid_to is not None and valid_to <= valid_from:
        errors.append(
            unit_error(
                row,
                "valid_to",
                "invalid_period",
                f"Ngày hết hiệu lực {valid_to} phải sau ngày có hiệu lực {valid_from}",
                f"valid_to {valid_to} must be after valid_from {valid_from}",
            )
        )
    if valid_to is not None and successor is None:
        errors.append(
            unit_error(
                row,
                "successor_id",
                "missing_successor",
                "Đơn vị hết hiệu lực phải có đơn vị kế thừa",
                "a retired unit (valid_to set) needs a successor_id",
            )
        )
    if valid_to is None and successor is not None:
        errors.append(
            unit_error(
                row,
                "successor_id",
                "successor_without_valid_to",
                "Chỉ đơn vị hết hiệu lực (có valid_to) mới có đơn vị kế thừa",
                "successor_id is only for a retired unit (valid_to set)",
            )
        )
    if successor is not None and successor == record.unit_id:
        errors.append(
            unit_error(
                row,
                "successor_id",
                "successor_is_self",
                "Đơn vị không thể kế thừa chính nó",
                "a unit cannot be its own successor",
            )
        )
    return None if len(errors) > count else Validity(valid_from, valid_to, successor)


def _read_date(row: int | None, name: str, value: object, errors: list[UnitError]) -> date | None:
    if value in ("", None):
        return None
    day: date | None = None
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str) and _DATE_RE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            day = None
    if day is None:
        errors.append(
            unit_error(row, name, "invalid_date", f"'{name}' phải là ngày YYYY-MM-DD", f"'{name}' must be YYYY-MM-DD")
        )
    elif day.day != 1:
        errors.append(
            unit_error(
                row,
                name,
                "boundary_not_month_start",
                f"'{name}' phải là ngày đầu tháng (số liệu tính theo tháng), nhận {day}",
                f"'{name}' must be the first day of a month (figures are monthly), got {day}",
            )
        )
        day = None
    return day


def successor_errors(
    units: Mapping[str, Unit], rows: Mapping[str, int | None], unchecked: set[str] | frozenset[str] = frozenset()
) -> list[UnitError]:
    """Registry-wide rules: the city never retires; a successor is known, exists on the day `valid_to`, and
    successor links form no cycle. `unchecked`: units whose own validity was unusable (already reported)."""
    errors: list[UnitError] = []
    for unit in units.values():
        row = rows[unit.unit_id]
        if unit.level is UnitLevel.CITY and unit.valid_to is not None:
            errors.append(
                unit_error(
                    row, "valid_to", "city_cannot_retire", "Thành phố không thể hết hiệu lực", "the city cannot retire"
                )
            )
        if unit.successor_id is None or unit.valid_to is None:
            continue
        successor = units.get(unit.successor_id)
        if successor is None:
            errors.append(
                unit_error(
                    row,
                    "successor_id",
                    "unknown_successor",
                    f"Đơn vị kế thừa '{unit.successor_id}' không tồn tại",
                    f"successor '{unit.successor_id}' does not exist",
                )
            )
        elif successor.unit_id not in unchecked and not successor.exists_on(unit.valid_to):
            errors.append(
                unit_error(
                    row,
                    "successor_id",
                    "successor_not_valid",
                    f"Đơn vị kế thừa '{successor.unit_id}' không có hiệu lực vào ngày {unit.valid_to}",
                    f"successor '{successor.unit_id}' does not exist on {unit.valid_to} (this unit's valid_to)",
                )
            )
    errors.extend(_successor_cycles(units, rows))
    return errors


def _successor_cycles(units: Mapping[str, Unit], rows: Mapping[str, int | None]) -> list[UnitError]:
    """`successor_not_valid` already excludes cycles in a valid file (valid_to grows along a chain); this
    catches them when that rule fails too."""
    vi, en = "Chuỗi đơn vị kế thừa tạo vòng lặp", "successor links form a cycle"
    return cycle_errors(units, rows, "successor_id", "successor_cycle", vi, en)


def cycle_errors(
    units: Mapping[str, Unit],
    rows: Mapping[str, int | None],
    link: Literal["parent_id", "successor_id"],
    code: str,
    vi: str,
    en: str,
) -> list[UnitError]:
    """One `code` error on the `link` field of every unit that lies on a cycle of `link`, in unit_id order."""
    return [unit_error(rows[unit_id], link, code, vi, en) for unit_id in sorted(cycle_members(units, attrgetter(link)))]


def cycle_members(units: Mapping[str, Unit], link: Callable[[Unit], str | None]) -> set[str]:
    """The units that lie on a cycle of `link` (parent or successor); links to unknown units end a walk."""
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
            current = link(units[current])
        settled.update(path)
    return in_cycle
