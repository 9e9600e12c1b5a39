from __future__ import annotations

import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from simulator.registry import DEFAULT_REGISTRY, RegistryError, load_splits, load_units

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


REFORM = date(2025, 7, 1)


def test_hanoi_registry_has_both_eras() -> None:
    units = load_units()
    by_level = Counter(u.level for u in units)
    assert by_level == {"city": 1, "department": 26, "district": 30, "commune": 652}
    city = next(u for u in units if u.level == "city")
    assert (city.unit_id, city.name) == ("H26", "Thành phố Hà Nội")
    districts = [u for u in units if u.level == "district"]
    expected = {f"Quận {n}" for n in URBAN} | {f"Huyện {n}" for n in RURAL} | {"Thị xã Sơn Tây"}
    assert {u.name for u in districts} == expected
    assert all(u.valid_to == REFORM and u.successor_id for u in districts)  # the district level ended
    departments = [u for u in units if u.level == "department"]
    assert set(DEPARTMENTS) <= {u.name for u in departments}
    current = [u for u in departments if u.valid_to is None]
    assert len(current) == 17 and "Trung tâm Phục vụ hành chính công Thành phố Hà Nội" in {u.name for u in current}
    assert {u.valid_to for u in departments if u.valid_to} == {date(2025, 3, 1)}  # the 1 March 2025 merger
    communes = [u for u in units if u.level == "commune"]
    old = [u for u in communes if u.valid_to is not None]
    new = [u for u in communes if u.valid_to is None]
    assert len(old) == 526 and all(u.valid_to == REFORM and u.successor_id for u in old)
    assert len(new) == 126 and all(u.valid_from == REFORM and u.parent_id == "H26" for u in new)
    assert Counter(u.name.split()[0] for u in new) == {"Phường": 51, "Xã": 75}
    assert all(re.match(r"(Phường|Xã|Thị trấn) \S", u.name) for u in communes)
    assert not [u for u in units if "tên tạm" in u.name or re.search(r"\bsố \d", u.name)]  # no placeholders


def test_old_communes_hang_under_their_districts() -> None:
    units = load_units()
    district_ids = {u.unit_id for u in units if u.level == "district"}
    old = [u for u in units if u.level == "commune" and u.valid_to is not None]
    assert all(u.parent_id in district_ids for u in old)
    per_district = Counter(u.parent_id for u in old)
    assert set(per_district) == district_ids  # every district had communes
    assert sum(per_district.values()) == 526  # June 2025 (579 in 2024, before an earlier round of mergers)
    ba_dinh = {u.name for u in old if u.parent_id == "H26.DIS.BADINH"}
    assert {"Phường Phúc Xá", "Phường Giảng Võ", "Phường Thành Công"} <= ba_dinh


def test_ids_follow_the_documented_scheme() -> None:
    pattern = {
        "city": r"H26",
        "department": r"H26\.DEP\.[A-Z]+",
        "district": r"H26\.DIS\.[A-Z]+",
        "commune": r"H26\.DIS\.[A-Z]+\.\d{5}|H26\.C\.\d{5}",
    }
    for unit in load_units():
        assert re.fullmatch(pattern[unit.level], unit.unit_id), unit
        if unit.level == "commune":
            assert unit.unit_id.startswith(f"{unit.parent_id}.")


def test_reform_mapping_covers_every_old_commune() -> None:
    units = {u.unit_id: u for u in load_units()}
    splits = load_splits()
    old = {uid for uid, u in units.items() if u.level == "commune" and u.valid_to is not None}
    assert set(splits) == old
    assert sum(len(rows) for rows in splits.values()) == 795
    for old_id, rows in splits.items():
        assert all(units[new].valid_from == REFORM for new, _ in rows)
        shares = [share for _, share in rows]
        assert shares == ["whole"] or set(shares) == {"part"}, old_id
        # The successor is the unit that took it whole, else the first that lists it.
        assert units[old_id].successor_id == rows[0][0]


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
