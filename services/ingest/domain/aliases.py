"""Unit aliases (other spellings of a unit for DVCQG `DonViXuLy`): parsing and validation of an alias file.

Accepted forms: CSV with the header `alias,unit_id`; a JSON object `{"alias": "unit_id", ...}`; a JSON array of
`{"alias": ..., "unit_id": ...}`. Every problem is reported at once, with its 1-based record number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.units import UnitError, UnitRegistry

ALIAS_CSV_HEADER = ("alias", "unit_id")
MAX_ALIAS_LENGTH = 200


@dataclass(frozen=True, slots=True)
class ParsedAliases:
    aliases: dict[str, str] = field(default_factory=dict)
    errors: list[UnitError] = field(default_factory=list)


def _error(row: int | None, field_name: str | None, code: str, vi: str, en: str) -> UnitError:
    where = f"Dòng {row}: {vi} / row {row}: {en}" if row is not None else f"{vi} / {en}"
    return UnitError(row, field_name, code, where)


AliasRow = tuple[int, object, object]  # (1-based record number, alias, unit_id) as read


def parse_aliases_csv(data: bytes | str) -> tuple[list[AliasRow], list[UnitError]]:
    """The rows of an alias CSV, or the header/encoding error that makes the file unreadable."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            return [], [_error(None, None, "invalid_encoding", "Tệp không phải UTF-8", "file is not UTF-8")]
    reader = csv.reader(io.StringIO(data.removeprefix("\ufeff"), newline=""))
    if tuple(next(reader, ())) != ALIAS_CSV_HEADER:
        return [], [_error(None, None, "invalid_header", "Tiêu đề phải là 'alias,unit_id'", "header: alias,unit_id")]
    rows: list[AliasRow] = []
    for number, row in enumerate(reader, start=1):
        if not row or row == [""]:
            continue
        rows.append((number, row[0], row[1]) if len(row) == 2 else (number, None, None))
    return rows, []


def parse_aliases_json(data: object) -> tuple[list[AliasRow], list[UnitError]]:
    if isinstance(data, Mapping):
        return [(number, alias, unit_id) for number, (alias, unit_id) in enumerate(data.items(), start=1)], []
    if not isinstance(data, list):
        return [], [_error(None, None, "not_an_array", "Cần đối tượng hoặc mảng JSON", "need a JSON object or array")]
    rows: list[AliasRow] = [
        (number, item.get("alias"), item.get("unit_id")) if isinstance(item, Mapping) else (number, None, None)
        for number, item in enumerate(data, start=1)
    ]
    return rows, []


def validate_aliases(rows: list[AliasRow], registry: UnitRegistry) -> ParsedAliases:
    """Aliases must be 1–200 printable chars (surrounding spaces trimmed), unique, and name an existing unit."""
    result = ParsedAliases()
    seen: dict[str, int] = {}
    for row, alias, unit_id in rows:
        if alias is None and unit_id is None:
            result.errors.append(_error(row, None, "invalid_row", "Cần 2 cột alias, unit_id", "need alias and unit_id"))
            continue
        text = alias.strip() if isinstance(alias, str) else None
        if not text or len(text) > MAX_ALIAS_LENGTH or not text.isprintable():
            result.errors.append(_error(row, "alias", "invalid_field", "Bí danh: 1–200 ký tự", "alias: 1–200 chars"))
            continue
        if not isinstance(unit_id, str) or unit_id not in registry:
            result.errors.append(
                _error(row, "unit_id", "unknown_unit", f"Đơn vị '{unit_id}' không tồn tại", f"no unit '{unit_id}'")
            )
            continue
        if text in seen:
            result.errors.append(
                _error(row, "alias", "duplicate_alias", f"Bí danh trùng dòng {seen[text]}", f"repeats row {seen[text]}")
            )
            continue
        seen[text] = row
        result.aliases[text] = unit_id
    return result
