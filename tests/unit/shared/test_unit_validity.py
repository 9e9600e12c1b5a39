"""Registry over time (SPEC §1): validity columns, successors, the month-start rule, reload merge and levels."""

from __future__ import annotations

from datetime import date

import pytest

from shared.unit_loading import CSV_HEADERS, build_registry, merge_registry, parse_units_csv, parse_units_json
from shared.units import CSV_HEADER, UnitError, UnitLevel, UnitRegistry

HEADER = ",".join(CSV_HEADER) + "\n"
# Before and after 1 July 2025: the district level is abolished, two wards merge into a commune under the city.
BASE = [
    "H26,Thành phố Hà Nội,city,,,,",
    "H26.HK,Quận Hoàn Kiếm,district,H26,,2025-07-01,H26.P.HOANKIEM",
    "H26.HK.HB,Phường Hàng Bạc,commune,H26.HK,,2025-07-01,H26.P.HOANKIEM",
    "H26.HK.HT,Phường Hàng Trống,commune,H26.HK,,2025-07-01,H26.P.HOANKIEM",
    "H26.P.HOANKIEM,Phường Hoàn Kiếm,commune,H26,2025-07-01,,",
]


def parse(lines: list[str], header: str = HEADER) -> UnitRegistry | list[UnitError]:
    parsed = parse_units_csv(header + "\n".join(lines) + "\n")
    assert parsed.errors == []
    return build_registry(parsed.records)


def codes(lines: list[str]) -> list[tuple[int | None, str | None, str]]:
    built = parse(lines)
    assert isinstance(built, list), "expected errors"
    return [(error.row, error.field, error.code) for error in built]


def test_the_2025_reorganisation_loads() -> None:
    registry = parse(BASE)
    assert isinstance(registry, UnitRegistry)
    old = registry.get("H26.HK.HB")
    assert old is not None and old.valid_from is None and old.valid_to == date(2025, 7, 1)
    assert old.successor_id == "H26.P.HOANKIEM"
    new = registry.get("H26.P.HOANKIEM")
    assert new is not None and new.parent_id == "H26" and new.level is UnitLevel.COMMUNE
    assert new.valid_from == date(2025, 7, 1) and new.valid_to is None
    assert registry.effective_unit("H26.HK.HB", date(2025, 6, 30)) == "H26.HK.HB"
    assert registry.effective_unit("H26.HK.HB", date(2025, 7, 1)) == "H26.P.HOANKIEM"
    assert registry.predecessors("H26.P.HOANKIEM") == ["H26.HK", "H26.HK.HB", "H26.HK.HT"]


@pytest.mark.parametrize("header", CSV_HEADERS)
def test_every_header_prefix_from_four_columns_is_accepted(header: tuple[str, ...]) -> None:
    width = len(header)
    rows = ["H26,Hà Nội,city,,2020-01-01,,"[:None], "H26.HK,Quận Hoàn Kiếm,district,H26,,,"]
    lines = [",".join(row.split(",")[:width]) for row in rows]
    registry = parse(lines, ",".join(header) + "\n")
    assert isinstance(registry, UnitRegistry) and len(registry) == 2
    city = registry.get("H26")
    assert city is not None and city.valid_from == (date(2020, 1, 1) if width >= 5 else None)


@pytest.mark.parametrize(
    "header",
    [
        "unit_id,name,level,parent_id,valid_to",  # not a prefix
        "unit_id,name,level,parent_id,valid_from,valid_to,successor_id,extra",
        "unit_id,name,level,parent_id,valid_from,successor_id,valid_to",
    ],
)
def test_other_headers_are_refused(header: str) -> None:
    parsed = parse_units_csv(header + "\nH26,Hà Nội,city,,,\n")
    assert [e.code for e in parsed.errors] == ["invalid_header"] and "valid_from" in parsed.errors[0].detail


def test_row_width_must_match_the_header() -> None:
    parsed = parse_units_csv("unit_id,name,level,parent_id,valid_from\nH26,Hà Nội,city,\nH26.A,Sở A,department,H26,\n")
    assert [(e.row, e.code) for e in parsed.errors] == [(1, "invalid_row")] and "cần 5" in parsed.errors[0].detail


def test_json_carries_the_same_fields_absent_meaning_null() -> None:
    parsed = parse_units_json(
        [
            {"unit_id": "H26", "name": "Thành phố Hà Nội", "level": "city"},
            {"unit_id": "H26.HK", "name": "Quận Hoàn Kiếm", "level": "district", "parent_id": "H26",
             "valid_from": None, "valid_to": "2025-07-01", "successor_id": "H26.P.HK"},
            {"unit_id": "H26.P.HK", "name": "Phường Hoàn Kiếm", "level": "commune", "parent_id": "H26",
             "valid_from": "2025-07-01"},
        ]
    )  # fmt: skip
    registry = build_registry(parsed.records)
    assert isinstance(registry, UnitRegistry)
    assert registry.effective_unit("H26.HK", date(2025, 8, 1)) == "H26.P.HK"
    bad = build_registry(
        parse_units_json([{"unit_id": "H26", "name": "HN", "level": "city", "valid_from": 20250701}]).records
    )
    assert isinstance(bad, list) and [(e.row, e.field, e.code) for e in bad] == [(1, "valid_from", "invalid_date")]


def test_a_commune_may_hang_under_the_city_or_a_district_only() -> None:
    assert isinstance(parse(["H26,HN,city,,,,", "C1,Xã A,commune,H26,,,"]), UnitRegistry)
    found = codes(["H26,HN,city,,,,", "S1,Sở A,department,H26,,,", "C1,Xã A,commune,S1,,,"])
    assert found == [(3, "parent_id", "invalid_parent")]


@pytest.mark.parametrize("value", ["2025-7-1", "01/07/2025", "2025-02-30", "20250701", "2025-07-01T00:00", "x"])
def test_malformed_dates(value: str) -> None:
    assert codes(["H26,HN,city,,,,", f"D1,Quận 1,district,H26,{value},,"]) == [(2, "valid_from", "invalid_date")]
    assert codes(["H26,HN,city,,,,", f"D1,Quận 1,district,H26,,{value},H26"]) == [(2, "valid_to", "invalid_date")]


def test_boundaries_must_be_month_starts() -> None:
    found = codes(["H26,HN,city,,,,", "D1,Quận 1,district,H26,2020-01-15,,", "D2,Quận 2,district,H26,,2025-06-30,H26"])
    assert found == [(2, "valid_from", "boundary_not_month_start"), (3, "valid_to", "boundary_not_month_start")]


@pytest.mark.parametrize(("valid_from", "valid_to"), [("2025-07-01", "2025-07-01"), ("2025-08-01", "2025-07-01")])
def test_valid_to_must_follow_valid_from(valid_from: str, valid_to: str) -> None:
    found = codes(["H26,HN,city,,,,", f"D1,Quận 1,district,H26,{valid_from},{valid_to},H26"])
    assert found == [(2, "valid_to", "invalid_period")]


def test_successor_present_exactly_when_retired() -> None:
    found = codes(["H26,HN,city,,,,", "D1,Quận 1,district,H26,,2025-07-01,", "D2,Quận 2,district,H26,,,H26"])
    assert found == [(2, "successor_id", "missing_successor"), (3, "successor_id", "successor_without_valid_to")]


def test_successor_must_be_known_and_not_itself() -> None:
    found = codes(
        ["H26,HN,city,,,,", "D1,Quận 1,district,H26,,2025-07-01,NOPE", "D2,Quận 2,district,H26,,2025-07-01,D2"]
    )
    assert found == [(2, "successor_id", "unknown_successor"), (3, "successor_id", "successor_is_self")]
    assert codes(["H26,HN,city,,,,", "D1,Quận 1,district,H26,,2025-07-01,bad id"]) == [
        (2, "successor_id", "invalid_field")
    ]


def test_successor_must_exist_on_the_day_of_retirement() -> None:
    lines = [
        "H26,HN,city,,,,",
        "D1,Quận 1,district,H26,,2025-07-01,LATE",  # successor starts a month later
        "LATE,Phường mới,commune,H26,2025-08-01,,",
        "D2,Quận 2,district,H26,,2025-07-01,GONE",  # successor already retired that day
        "GONE,Phường cũ,commune,H26,,2025-07-01,LATE",
        "D3,Quận 3,district,H26,,2025-05-01,LATER",  # ok: exists on 2025-05-01, retires afterwards
        "LATER,Phường X,commune,H26,2025-01-01,2025-08-01,LATE",
    ]
    assert codes(lines) == [(2, "successor_id", "successor_not_valid"), (4, "successor_id", "successor_not_valid"),
                            (5, "successor_id", "successor_not_valid")]  # fmt: skip


def test_successor_cycles_are_reported_on_every_member() -> None:
    found = codes(["H26,HN,city,,,,", "A,Xã A,commune,H26,,2025-07-01,B", "B,Xã B,commune,H26,,2025-07-01,A"])
    assert set(found) == {
        (2, "successor_id", "successor_not_valid"),
        (3, "successor_id", "successor_not_valid"),
        (2, "successor_id", "successor_cycle"),
        (3, "successor_id", "successor_cycle"),
    }


def test_the_city_cannot_retire() -> None:
    found = codes(["H26,HN,city,,,2025-07-01,H27", "H27,HN mới,city,,2025-07-01,,"])
    assert (1, "valid_to", "city_cannot_retire") in found


def test_a_row_with_bad_validity_still_takes_part_in_the_tree() -> None:
    # The district's bad date is its only error: its communes are not reported as orphans.
    found = codes(["H26,HN,city,,,,", "D1,Quận 1,district,H26,2025-13-01,,", "C1,Phường 1,commune,D1,,,"])
    assert found == [(2, "valid_from", "invalid_date")]


def test_every_problem_of_a_file_at_once_vietnamese_first() -> None:
    lines = [
        "H26,HN,city,,,2025-07-01,D9",  # 1 city retires (and D9 is unknown)
        "D1,Quận 1,district,H26,2025-07-15,,",  # 2 not a month start
        "D2,Quận 2,district,H26,,2025-07-01,",  # 3 no successor
        "D3,Quận 3,district,H26,,,D1",  # 4 successor without valid_to
        "D4,Quận 4,district,H26,2025-07-01,2025-06-01,D1",  # 5 period
        "D5,Quận 5,district,H26,,2025-7-1,D1",  # 6 date
    ]
    built = parse(lines)
    assert isinstance(built, list)
    assert [(e.row, e.code) for e in built] == [
        (1, "city_cannot_retire"),
        (1, "unknown_successor"),
        (2, "boundary_not_month_start"),
        (3, "missing_successor"),
        (4, "successor_without_valid_to"),
        (5, "invalid_period"),
        (6, "invalid_date"),
    ]
    assert all(e.detail.startswith(f"Dòng {e.row}: ") and f" / row {e.row}: " in e.detail for e in built)


# --- reload -------------------------------------------------------------------------------------------------------


def base_registry() -> UnitRegistry:
    registry = parse(BASE)
    assert isinstance(registry, UnitRegistry)
    return registry


def test_kept_units_keep_their_validity() -> None:
    outcome = merge_registry(
        base_registry(), parse_units_csv("unit_id,name,level,parent_id\nH26.X,Sở X,department,H26\n").records
    )
    assert outcome.errors == [] and outcome.registry is not None and outcome.added == ["H26.X"]
    assert outcome.registry.get("H26.HK.HB") == base_registry().get("H26.HK.HB")
    assert outcome.updated == []


def test_a_reload_may_retire_a_unit_and_counts_it_as_updated() -> None:
    registry = parse(["H26,HN,city,,,,", "C1,Xã 1,commune,H26,,,", "C2,Xã 2,commune,H26,,,"])
    assert isinstance(registry, UnitRegistry)
    outcome = merge_registry(registry, parse_units_csv(HEADER + "C1,Xã 1,commune,H26,,2025-07-01,C2\n").records)
    assert outcome.errors == [] and outcome.updated == ["C1"] and outcome.registry is not None
    assert outcome.registry.effective_unit("C1", date(2025, 7, 1)) == "C2"


def test_a_reload_may_not_change_a_level() -> None:
    outcome = merge_registry(
        base_registry(), parse_units_csv(HEADER + "H26.P.HOANKIEM,Phường HK,district,H26,2025-07-01,,\n").records
    )
    assert outcome.registry is None
    assert [(e.row, e.field, e.code) for e in outcome.errors] == [(1, "level", "level_changed")]
    assert "commune → district" in outcome.errors[0].detail


def test_a_reload_that_breaks_a_kept_successor_is_refused() -> None:
    # Moving the new ward's start after the old units' retirement breaks their successor link (kept rows: no row).
    outcome = merge_registry(
        base_registry(), parse_units_csv(HEADER + "H26.P.HOANKIEM,Phường HK,commune,H26,2025-08-01,,\n").records
    )
    assert outcome.registry is None
    assert {(e.row, e.code) for e in outcome.errors} == {(None, "successor_not_valid")}
    assert len(outcome.errors) == 3


def test_replace_cannot_drop_a_successor() -> None:
    keep = [r for r in parse_units_csv(HEADER + "\n".join(BASE)).records if r.unit_id != "H26.P.HOANKIEM"]
    outcome = merge_registry(base_registry(), keep, replace=True)
    assert outcome.registry is None and {e.code for e in outcome.errors} == {"unknown_successor"}


def test_loading_names_are_still_importable_from_shared_units() -> None:
    from shared import unit_loading, units

    assert units.build_registry is unit_loading.build_registry
    assert units.merge_registry is unit_loading.merge_registry and units.ParsedUnits is unit_loading.ParsedUnits
    with pytest.raises(AttributeError):
        _ = units.no_such_name  # type: ignore[attr-defined]
