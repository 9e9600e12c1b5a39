"""Matching agency names (DonViXuLy) to units."""

from __future__ import annotations

import pytest

from services.ingest.domain.unit_resolver import UnitResolver, normalise_name
from shared.units import UnitRegistry, build_registry, parse_units_csv


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sở Tư pháp", "so tu phap"),
        ("  QUẬN   ĐỐNG ĐA ", "quan dong da"),
        ("Sở Lao động - Thương binh và Xã hội", "so lao dong thuong binh va xa hoi"),
        ("Huyện Ứng Hòa", "huyen ung hoa"),
    ],
)
def test_normalise_name(text: str, expected: str) -> None:
    assert normalise_name(text) == expected


def test_resolution_order(registry: UnitRegistry) -> None:
    resolver = UnitResolver(registry, {"000.00.25.H26": "H26.STP", "UBND quận Hoàn Kiếm": "H26.HK"})
    assert (resolver.resolve("H26.DD").unit_id, resolver.resolve("H26.DD").matched_by) == ("H26.DD", "id")
    assert resolver.resolve("Quận Đống Đa").matched_by == "name"
    assert (resolver.resolve("000.00.25.H26").unit_id, resolver.resolve("000.00.25.H26").matched_by) == (
        "H26.STP",
        "alias",
    )
    assert resolver.resolve("quan dong da").unit_id == "H26.DD"
    assert resolver.resolve("quan dong da").matched_by == "normalised_name"
    assert resolver.resolve("SỞ LAO ĐỘNG – THƯƠNG BINH VÀ XÃ HỘI").unit_id == "H26.SLDTBXH"
    assert resolver.resolve("ubnd quan hoan kiem").matched_by == "normalised_alias"
    assert resolver.resolve("Sở Ngoại vụ").unit_id is None
    assert resolver.resolve("").unit_id is None


def test_ambiguous_names_do_not_match() -> None:
    registry = build_registry(
        parse_units_csv(
            "unit_id,name,level,parent_id\nH26,Hà Nội,city,\nA,Phòng Tư pháp,department,H26\n"
            "B,Phòng Tư Pháp,department,H26\n"
        ).records
    )
    assert isinstance(registry, UnitRegistry)
    resolver = UnitResolver(registry)
    assert resolver.resolve("Phòng Tư pháp").unit_id == "A"  # the exact spelling is unambiguous
    loose = resolver.resolve("phong tu phap")
    assert loose.unit_id is None and loose.ambiguous == ("A", "B")


def test_aliases_must_point_to_known_units(registry: UnitRegistry) -> None:
    with pytest.raises(ValueError, match=r"Sở cũ → H26\.NOPE"):
        UnitResolver(registry, {"Sở cũ": "H26.NOPE"})
