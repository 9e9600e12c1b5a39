"""Property: any valid registry (validity and successors included) survives to_csv → parse → build unchanged,
and so do its rows as JSON."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.unit_loading import build_registry, parse_units_csv, parse_units_json
from shared.units import Unit, UnitLevel, UnitRegistry

ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
# Vietnamese with diacritics, commas, quotes and other CSV-special characters; printable, not blank.
NAMES = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")) | st.sampled_from("ăâđêôơưạảấầẩẫậỹ,\"' "),
    min_size=1,
    max_size=40,
).filter(lambda name: name.isprintable() and name.strip() != "")
MONTHS = st.builds(date, st.integers(2018, 2030), st.integers(1, 12), st.just(1))


def _month_after(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@st.composite
def registries(draw: st.DrawFn) -> list[Unit]:
    ids = draw(st.lists(st.text(ID_CHARS, min_size=1, max_size=12), min_size=1, max_size=25, unique=True))
    city_id, rest = ids[0], ids[1:]
    units = {city_id: Unit(city_id, draw(NAMES), UnitLevel.CITY, None, draw(st.none() | MONTHS))}
    districts: list[str] = []
    for unit_id in rest:
        level = draw(st.sampled_from([UnitLevel.DEPARTMENT, UnitLevel.DISTRICT, UnitLevel.COMMUNE]))
        parent = city_id
        if level is UnitLevel.COMMUNE and districts:
            parent = draw(st.sampled_from([city_id, *districts]))
        if level is UnitLevel.DISTRICT:
            districts.append(unit_id)
        valid_from = draw(st.none() | MONTHS)
        valid_to = None
        if draw(st.booleans()):
            start = valid_from or date(2018, 1, 1)
            valid_to = _month_after(start, draw(st.integers(1, 60)))
        units[unit_id] = Unit(unit_id, draw(NAMES), level, parent, valid_from, valid_to)
    # Successors: any other unit that exists on the day of retirement (valid_to grows along a chain: no cycles).
    result: list[Unit] = []
    for unit in units.values():
        if unit.valid_to is None:
            result.append(unit)
            continue
        candidates = sorted(
            u.unit_id for u in units.values() if u.unit_id != unit.unit_id and u.exists_on(unit.valid_to)
        )
        if not candidates:
            result.append(Unit(unit.unit_id, unit.name, unit.level, unit.parent_id, unit.valid_from))
            continue
        successor = draw(st.sampled_from(candidates))
        result.append(
            Unit(unit.unit_id, unit.name, unit.level, unit.parent_id, unit.valid_from, unit.valid_to, successor)
        )
    return result


def built(units: list[Unit]) -> UnitRegistry:
    registry = UnitRegistry(units)
    again = build_registry(parse_units_csv(registry.to_csv()).records)
    assert isinstance(again, UnitRegistry), again
    return again


@settings(max_examples=100, deadline=None)
@given(registries())
def test_to_csv_parses_back_to_the_same_registry(units: list[Unit]) -> None:
    registry = UnitRegistry(units)
    again = built(units)
    assert list(again) == list(registry)
    assert again.to_csv() == registry.to_csv()
    assert again.to_csv().splitlines()[0] == "unit_id,name,level,parent_id,valid_from,valid_to,successor_id"
    encoded = registry.to_csv().encode("utf-8")
    assert list(build_registry(parse_units_csv(encoded).records)) == list(registry)


@settings(max_examples=50, deadline=None)
@given(registries())
def test_rows_as_json_parse_back_to_the_same_registry(units: list[Unit]) -> None:
    registry = UnitRegistry(units)
    rows = [{key: value or None for key, value in row.items()} for row in registry.as_rows()]
    again = build_registry(parse_units_json(rows).records)
    assert isinstance(again, UnitRegistry) and list(again) == list(registry)
