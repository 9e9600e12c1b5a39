from __future__ import annotations

import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from simulator.registry import DEFAULT_REGISTRY, RegistryError, load_units

SMALL = DEFAULT_REGISTRY.parent / "units_small.csv"
HEADER7 = "unit_id,name,level,parent_id,valid_from,valid_to,successor_id\n"

# HANOI_FACTS.md, "Organisation".
URBAN = [
    "Ba Đình",
    "Hoàn Kiếm",
    "Tây Hồ",
    "Long Biên",
    "Cầu Giấy",
    "Đống Đa",
    "Hai Bà Trưng",
    "Hoàng Mai",
    "Thanh Xuân",
    "Nam Từ Liêm",
    "Bắc Từ Liêm",
    "Hà Đông",
]
RURAL = [
    "Ba Vì",
    "Chương Mỹ",
    "Đan Phượng",
    "Đông Anh",
    "Gia Lâm",
    "Hoài Đức",
    "Mê Linh",
    "Mỹ Đức",
    "Phú Xuyên",
    "Phúc Thọ",
    "Quốc Oai",
    "Sóc Sơn",
    "Thạch Thất",
    "Thanh Oai",
    "Thanh Trì",
    "Thường Tín",
    "Ứng Hòa",
]
DEPARTMENTS = [
    "Sở Tư pháp",
    "Sở Nội vụ",
    "Sở Tài chính",
    "Sở Kế hoạch và Đầu tư",
    "Sở Xây dựng",
    "Sở Giao thông vận tải",
    "Sở Tài nguyên và Môi trường",
    "Sở Công Thương",
    "Sở Nông nghiệp và Phát triển nông thôn",
    "Sở Lao động - Thương binh và Xã hội",
    "Sở Y tế",
    "Sở Giáo dục và Đào tạo",
    "Sở Văn hóa và Thể thao",
    "Sở Du lịch",
    "Sở Khoa học và Công nghệ",
    "Sở Thông tin và Truyền thông",
    "Sở Quy hoạch - Kiến trúc",
    "Sở Ngoại vụ",
    "Thanh tra Thành phố",
    "Ban Dân tộc",
    "Ban Quản lý các khu công nghiệp và chế xuất",
]


def test_hanoi_registry_has_the_published_structure() -> None:
    units = load_units()
    by_level = Counter(u.level for u in units)
    assert by_level["city"] == 1
    city = next(u for u in units if u.level == "city")
    assert (city.unit_id, city.name) == ("H26", "Thành phố Hà Nội")
    districts = {u.name for u in units if u.level == "district"}
    expected = {f"Quận {n}" for n in URBAN} | {f"Huyện {n}" for n in RURAL} | {"Thị xã Sơn Tây"}
    assert districts == expected and len(districts) == 30
    departments = {u.name for u in units if u.level == "department"}
    assert set(DEPARTMENTS) <= departments and 21 <= len(departments) <= 23
    assert by_level["commune"] == 579


def test_every_commune_hangs_under_a_district_with_a_proper_prefix() -> None:
    units = load_units()
    district_ids = {u.unit_id for u in units if u.level == "district"}
    communes = [u for u in units if u.level == "commune"]
    assert all(u.parent_id in district_ids for u in communes)
    assert all(re.match(r"(Phường|Xã|Thị trấn) \S", u.name) for u in communes)
    per_district = Counter(u.parent_id for u in communes)
    assert set(per_district) == district_ids  # every district has communes
    assert per_district["H26.DIS.BADINH"] == 14
    ba_dinh = {u.name for u in communes if u.parent_id == "H26.DIS.BADINH"}
    assert {"Phường Phúc Xá", "Phường Giảng Võ", "Phường Thành Công"} <= ba_dinh
    placeholders = [u for u in communes if "(tên tạm)" in u.name]
    assert all(u.name.startswith("Xã số ") for u in placeholders)


def test_ids_follow_the_documented_scheme() -> None:
    pattern = {
        "city": r"H26",
        "department": r"H26\.DEP\.[A-Z]+",
        "district": r"H26\.DIS\.[A-Z]+",
        "commune": r"H26\.DIS\.[A-Z]+\.C\d{2}",
    }
    for unit in load_units():
        assert re.fullmatch(pattern[unit.level], unit.unit_id), unit
        if unit.level == "commune":
            assert unit.unit_id.startswith(f"{unit.parent_id}.")


def test_small_registry_for_tests() -> None:
    units = load_units(SMALL)
    levels = Counter(u.level for u in units)
    assert levels == {"city": 1, "department": 3, "district": 3, "commune": 6}
    assert "Sở Tư pháp" in {u.name for u in units}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("id,name,level,parent\nH26,Hà Nội,city,\n", "header"),
        ("unit_id,name,level,parent_id\nH26,Hà Nội,city,\nH26,Again,city,\n", "duplicate"),
        (
            "unit_id,name,level,parent_id\nH26,Hà Nội,city,\nS1,Sở A,department,H26\nC1,Phường X,commune,S1\n",
            "needs a district or city",
        ),
        ("unit_id,name,level,parent_id,valid_to\nH26,Hà Nội,city,\n", "header"),
        ("unit_id,name,level,parent_id,valid_from\nH26,Hà Nội,city,,1/7/2025\n", "YYYY-MM-DD"),
        (
            "unit_id,name,level,parent_id,valid_from,valid_to\nH26,Hà Nội,city,,,\nD1,Q,district,H26,,2025-07-01\n",
            "go together",
        ),
        (f"{HEADER7}H26,Hà Nội,city,,,,\nD1,Q,district,H26,2025-07-01,2025-07-01,H26\n", "after valid_from"),
        (f"{HEADER7}H26,Hà Nội,city,,,,\nD1,Q,district,H26,,2025-07-01,NOPE\n", "successor NOPE"),
        ("unit_id,name,level,parent_id\nH26,Hà Nội,city,\nD1,Quận Y,district,\n", "needs a city"),
        ("unit_id,name,level,parent_id\nH 26,Hà Nội,city,\n", "unit_id"),
        ("unit_id,name,level,parent_id\nH26,Hà Nội,province,\n", "level"),
        ("unit_id,name,level,parent_id\nD1,Quận Y,district,\n", "exactly one city"),
    ],
)
def test_broken_registries_are_refused(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "units.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(RegistryError, match=message):
        load_units(path)


def test_validity_columns_are_read(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_text(
        HEADER7
        + "H26,Hà Nội,city,,,,\nD1,Quận 1,district,H26,,2025-07-01,C9\nC9,Phường Mới,commune,H26,2025-07-01,,\n",
        encoding="utf-8",
    )
    city, district, commune = load_units(path)
    assert city.valid_from is None and city.successor_id is None
    assert (district.valid_to, district.successor_id) == (date(2025, 7, 1), "C9")
    assert (commune.parent_id, commune.valid_from, commune.valid_to) == ("H26", date(2025, 7, 1), None)
