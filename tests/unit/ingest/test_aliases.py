"""Alias files (DVCQG DonViXuLy spellings): CSV/JSON parsing and whole-file validation."""

from __future__ import annotations

from services.ingest.domain.aliases import parse_aliases_csv, parse_aliases_json, validate_aliases
from shared.units import UnitRegistry


def test_csv_aliases_are_trimmed_and_mapped(registry: UnitRegistry) -> None:
    rows, unreadable = parse_aliases_csv("\ufeffalias,unit_id\n  000.00.25.H26 ,H26.HK\n\nUBND quận Đống Đa,H26.DD\n")
    assert unreadable == []
    parsed = validate_aliases(rows, registry)
    assert parsed.errors == []
    assert parsed.aliases == {"000.00.25.H26": "H26.HK", "UBND quận Đống Đa": "H26.DD"}


def test_every_problem_is_reported_with_its_row(registry: UnitRegistry) -> None:
    rows, _ = parse_aliases_csv(b"alias,unit_id\nA,H26.HK\nB,H99\n,H26.HK\nA,H26.DD\nonly-one-cell\n")
    parsed = validate_aliases(rows, registry)
    assert [(e.row, e.field, e.code) for e in parsed.errors] == [
        (2, "unit_id", "unknown_unit"),
        (3, "alias", "invalid_field"),
        (4, "alias", "duplicate_alias"),
        (5, None, "invalid_row"),
    ]
    assert all(" / " in e.detail for e in parsed.errors)
    assert parsed.aliases == {"A": "H26.HK"}


def test_unreadable_files_are_refused_as_a_whole() -> None:
    assert parse_aliases_csv(b"name,unit\nA,H26\n")[1][0].code == "invalid_header"
    assert parse_aliases_csv(b"\xff\xfe")[1][0].code == "invalid_encoding"
    assert parse_aliases_json("nope")[1][0].code == "not_an_array"


def test_json_object_and_array_forms_are_equivalent(registry: UnitRegistry) -> None:
    as_object, _ = parse_aliases_json({"Hoàn Kiếm": "H26.HK"})
    as_array, _ = parse_aliases_json([{"alias": "Hoàn Kiếm", "unit_id": "H26.HK"}, 7])
    assert validate_aliases(as_object, registry).aliases == {"Hoàn Kiếm": "H26.HK"}
    parsed = validate_aliases(as_array, registry)
    assert parsed.aliases == {"Hoàn Kiếm": "H26.HK"}
    assert [(e.row, e.code) for e in parsed.errors] == [(2, "invalid_row")]
