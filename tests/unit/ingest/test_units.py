"""Unit registry: parsing, tree rules (all errors with rows), reload merge, tree walks."""

from __future__ import annotations

import unicodedata

import pytest

from shared.units import (
    UnitError,
    UnitLevel,
    UnitRecord,
    UnitRegistry,
    build_registry,
    merge_registry,
    parse_units_csv,
    parse_units_json,
)
from tests.unit.ingest.conftest import HANOI_CSV

HEADER = "unit_id,name,level,parent_id\n"


def errors_of(csv_text: str) -> list[UnitError]:
    parsed = parse_units_csv(csv_text)
    built = build_registry(parsed.records)
    assert isinstance(built, list), "expected errors"
    return parsed.errors + built


def codes(errors: list[UnitError]) -> list[tuple[int | None, str]]:
    return [(error.row, error.code) for error in errors]


def test_hanoi_registry_parses(registry: UnitRegistry) -> None:
    assert len(registry) == 12
    city = registry.city
    assert city is not None and city.unit_id == "H26" and city.parent_id is None
    unit = registry.get("H26.UH.VD")
    assert unit is not None and unit.name == "Thị trấn Vân Đình" and unit.level is UnitLevel.COMMUNE


def test_vietnamese_names_round_trip_exactly(registry: UnitRegistry) -> None:
    again = build_registry(parse_units_csv(registry.to_csv().encode("utf-8")).records)
    assert isinstance(again, UnitRegistry)
    assert [unit for unit in again] == [unit for unit in registry]
    assert registry.to_csv() == again.to_csv()


def test_names_are_not_normalised() -> None:
    decomposed = unicodedata.normalize("NFD", "Huyện Ứng Hòa")
    registry = build_registry(parse_units_csv(f"{HEADER}H26,Hà Nội,city,\nH26.UH,{decomposed},district,H26\n").records)
    assert isinstance(registry, UnitRegistry)
    unit = registry.get("H26.UH")
    assert unit is not None and unit.name == decomposed and unit.name != "Huyện Ứng Hòa"


def test_bom_crlf_and_quoted_commas_are_handled() -> None:
    text = "\ufeff" + HEADER.replace("\n", "\r\n") + 'H26,"Hà Nội, Thủ đô",city,\r\n\r\n'
    registry = build_registry(parse_units_csv(text.encode("utf-8")).records)
    assert isinstance(registry, UnitRegistry)
    city = registry.get("H26")
    assert city is not None and city.name == "Hà Nội, Thủ đô"


@pytest.mark.parametrize(
    "header", ["unit_id,name,level", "id,name,level,parent_id", "unit_id;name;level;parent_id", ""]
)
def test_header_must_be_exact(header: str) -> None:
    parsed = parse_units_csv(header + "\nH26,Hà Nội,city,\n")
    assert parsed.records == [] and [e.code for e in parsed.errors] == ["invalid_header"]


def test_bad_utf8_is_one_clear_error() -> None:
    parsed = parse_units_csv(HEADER.encode() + "H26,Hà Nam,city,\n".encode("latin-1"))
    assert [e.code for e in parsed.errors] == ["invalid_encoding"]


def test_wrong_column_count_reports_its_row() -> None:
    parsed = parse_units_csv(HEADER + "H26,Hà Nội,city,\nH26.HK,Hoàn Kiếm,district\n")
    assert codes(parsed.errors) == [(2, "invalid_row")]
    assert parsed.errors[0].detail.startswith("Dòng 2:")


def test_every_error_is_reported_with_its_row() -> None:
    text = HEADER + "\n".join(
        [
            "H26,Thành phố Hà Nội,city,",  # 1 ok
            "H26/BAD,Sở X,department,H26",  # 2 bad id
            "H26.STP,Sở Tư pháp,department,H26",  # 3 ok
            "H26.STP,Sở Tư pháp (bản sao),department,H26",  # 4 duplicate
            f"H26.LONG,{'x' * 201},department,H26",  # 5 name too long
            "H26.OK200," + "y" * 200 + ",department,H26",  # 6 ok: exactly 200
            "H26.LV,Ban gì đó,ministry,H26",  # 7 bad level
            "H26.STP.C,Phường lạ,commune,H26.STP",  # 8 commune under a department
            "H26.HK,Quận Hoàn Kiếm,district,H26",  # 9 ok
            "H26.HK.X,Quận trong quận,district,H26.HK",  # 10 district under a district
            "H26.GHOST.1,Phường ma,commune,H26.GHOST",  # 11 unknown parent
            "H27,Hà Nội 2,city,",  # 12 second city
            "H26.NOPARENT,Sở mồ côi,department,",  # 13 missing parent
            "H26.EMPTY,,department,H26",  # 14 empty name
        ]
    )
    assert codes(errors_of(text)) == [
        (2, "invalid_field"),
        (4, "duplicate_unit"),
        (5, "invalid_field"),
        (7, "invalid_field"),
        (8, "invalid_parent"),
        (10, "invalid_parent"),
        (11, "unknown_parent"),
        (12, "multiple_cities"),
        (13, "missing_parent"),
        (14, "invalid_field"),
    ]


def test_duplicate_names_the_first_row() -> None:
    found = errors_of(HEADER + "H26,Hà Nội,city,\nH26.A,A,department,H26\nH26.A,B,department,H26\n")
    assert codes(found) == [(3, "duplicate_unit")] and "dòng 2" in found[0].detail


def test_no_city() -> None:
    assert codes(errors_of(HEADER + "H26.A,Sở A,department,H26\n")) == [(1, "unknown_parent"), (None, "no_city")]


def test_city_with_a_parent() -> None:
    found = errors_of(HEADER + "H26,Hà Nội,city,H26.A\nH26.A,Sở A,department,H26\n")
    assert (1, "invalid_parent") in codes(found)


def test_cycles_are_found_even_when_levels_are_wrong() -> None:
    text = HEADER + "H26,Hà Nội,city,\nD1,Quận 1,district,D2\nD2,Quận 2,district,D1\nSELF,Phường,commune,SELF\n"
    found = codes(errors_of(text))
    assert {(2, "cycle"), (3, "cycle"), (4, "cycle")} <= set(found)
    assert (2, "invalid_parent") in found and (4, "invalid_parent") in found


def test_json_registry() -> None:
    parsed = parse_units_json(
        [
            {"unit_id": "H26", "name": "Thành phố Hà Nội", "level": "city", "parent_id": None},
            {"unit_id": "H26.HK", "name": "Quận Hoàn Kiếm", "level": "district", "parent_id": "H26"},
            {"unit_id": "H26.HK.HB", "name": "Phường Hàng Bạc", "level": "commune", "parent_id": "H26.HK"},
        ]
    )
    registry = build_registry(parsed.records)
    assert parsed.errors == [] and isinstance(registry, UnitRegistry) and len(registry) == 3


def test_json_registry_errors() -> None:
    assert [e.code for e in parse_units_json({"unit_id": "H26"}).errors] == ["not_an_array"]
    parsed = parse_units_json([{"unit_id": "H26", "name": "Hà Nội", "level": "city"}, "H26.HK"])
    assert codes(parsed.errors) == [(2, "not_an_object")]
    found = build_registry([UnitRecord(1, 26, ["x"], {"l": 1}, 5)])
    assert isinstance(found, list)
    assert sorted(e.field or "" for e in found if e.row == 1) == ["level", "name", "parent_id", "unit_id"]


def test_walks(registry: UnitRegistry) -> None:
    assert registry.ancestors("H26.HK.HB") == ["H26.HK", "H26"]
    assert registry.ancestors("H26") == []
    assert registry.descendants("H26.HK") == ["H26.HK.HB", "H26.HK.HT"]
    assert registry.descendants("H26.HK.HB") == []
    assert set(registry.descendants("H26")) == {unit.unit_id for unit in registry} - {"H26"}
    assert registry.children("H26.UH") == ["H26.UH.VD"]
    assert registry.is_within("H26.HK.HB", "H26.HK") and registry.is_within("H26.HK", "H26.HK")
    assert not registry.is_within("H26.DD.VM", "H26.HK")
    with pytest.raises(KeyError):
        registry.ancestors("H26.NOPE")
    with pytest.raises(KeyError):
        registry.descendants("H26.NOPE")


# --- reload -------------------------------------------------------------------------------------------------------


def records(text: str) -> list[UnitRecord]:
    return parse_units_csv(HEADER + text).records


def test_upsert_keeps_unlisted_units_and_applies_changes(registry: UnitRegistry) -> None:
    outcome = merge_registry(
        registry,
        records(
            "H26.HK,Quận Hoàn Kiếm (mới),district,H26\n"
            "H26.HK.CR,Phường Chương Dương,commune,H26.HK\n"
            "H26.HK.HT,Phường Hàng Trống,commune,H26.DD\n"
        ),
    )
    assert outcome.errors == [] and outcome.registry is not None
    assert outcome.added == ["H26.HK.CR"] and outcome.updated == ["H26.HK", "H26.HK.HT"] and outcome.removed == []
    assert len(outcome.registry) == 13
    assert outcome.registry.ancestors("H26.HK.HT") == ["H26.DD", "H26"]


def test_first_load_adds_everything() -> None:
    outcome = merge_registry(None, parse_units_csv(HANOI_CSV).records)
    assert outcome.registry is not None and len(outcome.added) == 12


def test_replace_removes_unreferenced_units(registry: UnitRegistry) -> None:
    keep = [r for r in parse_units_csv(HANOI_CSV).records if r.unit_id not in {"H26.UH", "H26.UH.VD"}]
    outcome = merge_registry(registry, keep, is_referenced={"H26.HK.HB"}, replace=True)
    assert outcome.errors == [] and outcome.removed == ["H26.UH", "H26.UH.VD"]
    assert outcome.registry is not None and "H26.UH" not in outcome.registry


def test_replace_refuses_to_drop_a_referenced_unit(registry: UnitRegistry) -> None:
    keep = [r for r in parse_units_csv(HANOI_CSV).records if r.unit_id != "H26.UH.VD"]
    outcome = merge_registry(registry, keep, is_referenced=lambda unit_id: unit_id == "H26.UH.VD", replace=True)
    assert outcome.registry is None
    assert [(e.code, e.row) for e in outcome.errors] == [("unit_in_use", None)]
    assert "H26.UH.VD" in outcome.errors[0].detail


def test_a_reload_that_breaks_the_tree_is_refused_whole(registry: UnitRegistry) -> None:
    outcome = merge_registry(
        registry, records("H26.HK,Quận Hoàn Kiếm,district,H26.STP\nH26.NEW,Sở Mới,department,H26\n")
    )
    assert outcome.registry is None and codes(outcome.errors) == [(1, "invalid_parent")]


def test_errors_on_kept_units_have_no_row(registry: UnitRegistry) -> None:
    # Turning the district into a commune orphans its kept communes.
    outcome = merge_registry(registry, records("H26.HK,Quận Hoàn Kiếm,commune,H26.DD\n"))
    assert outcome.registry is None
    assert {(None, "invalid_parent")} <= set(codes(outcome.errors))
