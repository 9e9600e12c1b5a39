"""A small but realistic slice of Hanoi's unit tree, shared by the ingest domain tests."""

from __future__ import annotations

import pytest

from shared.units import UnitRegistry, build_registry, parse_units_csv

HANOI_CSV = """unit_id,name,level,parent_id
H26,Thành phố Hà Nội,city,
H26.STP,Sở Tư pháp,department,H26
H26.SNV,Sở Nội vụ,department,H26
H26.SLDTBXH,Sở Lao động - Thương binh và Xã hội,department,H26
H26.HK,Quận Hoàn Kiếm,district,H26
H26.DD,Quận Đống Đa,district,H26
H26.ST,Thị xã Sơn Tây,district,H26
H26.UH,Huyện Ứng Hòa,district,H26
H26.HK.HB,Phường Hàng Bạc,commune,H26.HK
H26.HK.HT,Phường Hàng Trống,commune,H26.HK
H26.DD.VM,Phường Văn Miếu,commune,H26.DD
H26.UH.VD,Thị trấn Vân Đình,commune,H26.UH
"""


def hanoi_registry() -> UnitRegistry:
    registry = build_registry(parse_units_csv(HANOI_CSV).records)
    assert isinstance(registry, UnitRegistry), registry
    return registry


@pytest.fixture
def registry() -> UnitRegistry:
    return hanoi_registry()
