"""Events for a retired unit are accepted and reported as `redirected` (SPEC §1 effective unit, SPEC §7)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.ingest.domain.batch import redirections, validate_batch
from services.ingest.entrypoints.schemas import IngestResponse, UnitInfo, UnitRow
from shared.unit_loading import build_registry, parse_units_csv
from shared.units import UnitRegistry
from tests.unit.ingest.test_batch import event

NOW = datetime(2025, 7, 15, 3, 0, tzinfo=UTC)
DUE = "2025-07-20T17:00:00+07:00"
REGISTRY_CSV = """unit_id,name,level,parent_id,valid_from,valid_to,successor_id
H26,Thành phố Hà Nội,city,,,,
H26.HK,Quận Hoàn Kiếm,district,H26,,2025-07-01,H26.P.HK
H26.HK.HB,Phường Hàng Bạc,commune,H26.HK,,2025-07-01,H26.P.HK
H26.P.HK,Phường Hoàn Kiếm,commune,H26,2025-07-01,,
H26.DD,Quận Đống Đa,district,H26,,,
"""


def registry() -> UnitRegistry:
    built = build_registry(parse_units_csv(REGISTRY_CSV).records)
    assert isinstance(built, UnitRegistry), built
    return built


def test_events_of_a_retired_unit_are_accepted_and_listed_with_their_effective_unit() -> None:
    units = registry()
    items = [
        event("before", "H26.HK.HB", occurred_at="2025-06-30T23:59:00+07:00", due_at=DUE),  # still June in Vietnam
        event("after", "H26.HK.HB", occurred_at="2025-06-30T17:00:00+00:00", due_at=DUE),  # 1 July 00:00 in Vietnam
        event("district", "H26.HK", occurred_at="2025-07-10T08:00:00+07:00", due_at=DUE),
        event("current", "H26.DD", occurred_at="2025-07-10T08:00:00+07:00", due_at=DUE),
        event("new", "H26.P.HK", occurred_at="2025-07-10T08:00:00+07:00", due_at=DUE),
        event("bad", "H26.HK.HB", channel="pigeon"),
    ]
    result = validate_batch(items, now=NOW, unit_exists=units.exists)
    assert [item.index for item in result.accepted] == [0, 1, 2, 3, 4]
    assert [item["index"] for item in result.rejected] == [5]
    assert redirections(result.accepted, units.effective_unit) == [
        {"index": 1, "event_id": "after", "unit_id": "H26.HK.HB", "effective_unit_id": "H26.P.HK"},
        {"index": 2, "event_id": "district", "unit_id": "H26.HK", "effective_unit_id": "H26.P.HK"},
    ]


def test_nothing_redirected_in_a_registry_without_retirements() -> None:
    units = registry()
    result = validate_batch([event("a", "H26.DD", occurred_at="2025-07-10T08:00:00+07:00",
                                   due_at=DUE)], now=NOW, unit_exists=units.exists)  # fmt: skip
    assert len(result.accepted) == 1 and redirections(result.accepted, units.effective_unit) == []


def test_the_response_models_document_the_new_fields() -> None:
    response = IngestResponse.model_json_schema()
    assert "redirected" in response["properties"] and "redirected" not in response["required"]
    item = response["$defs"]["RedirectedItem"]
    assert set(item["required"]) == {"index", "event_id", "unit_id", "effective_unit_id"}
    assert all(field.get("description") for field in item["properties"].values())
    for model in (UnitInfo, UnitRow):
        properties = model.model_json_schema()["properties"]
        assert {"valid_from", "valid_to", "successor_id"} <= set(properties)
        assert all(field.get("description") for field in properties.values())
    assert set(UnitRow.model_json_schema()["required"]) == {"unit_id", "name", "level"}
