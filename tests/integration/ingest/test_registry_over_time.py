"""The registry over time through ingest (SPEC §1, §7): validity and successors loaded by `PUT /v1/admin/units`,
stored, read back, every per-row error of a bad file, and events for a retired unit accepted with `redirected`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import asyncpg

from tests.integration.conftest import unique
from tests.integration.ingest.conftest import IngestUnderTest, received_event, vn_time

VN = timezone(timedelta(hours=7))
HEADER = "unit_id,name,level,parent_id,valid_from,valid_to,successor_id\n"


def _month_start(days_ago: int) -> date:
    """The first day of the month (Vietnam time) of the day `days_ago` days ago."""
    return (datetime.now(UTC) - timedelta(days=days_ago)).astimezone(VN).date().replace(day=1)


async def test_retired_unit_loads_reads_back_and_its_events_are_redirected(ingest: IngestUnderTest) -> None:
    # The reorganisation took effect at the start of the month of 3 days ago: every event below is on or after it.
    retired_on = _month_start(3)
    before = date(retired_on.year - 1, retired_on.month, 1)
    old, new = unique("H26.D02.OLD"), unique("H26.NEW")
    csv = (
        HEADER
        + f"{old},Phường Tràng Tiền,commune,H26.D02,{before},{retired_on},{new}\n"
        + f"{new},Phường Hoàn Kiếm,commune,H26,{retired_on},,\n"
    )
    async with ingest.admin() as admin:
        loaded = await admin.put("/v1/admin/units", content=csv.encode(), headers={"Content-Type": "text/csv"})
        units = {unit["unit_id"]: unit for unit in (await admin.get("/v1/units")).json()["items"]}
    assert loaded.status_code == 200, loaded.text
    assert sorted(loaded.json()["added"]) == sorted([old, new])
    assert units[old] | {"path": None} == {
        "unit_id": old,
        "name": "Phường Tràng Tiền",
        "level": "commune",
        "parent_id": "H26.D02",
        "path": None,
        "valid_from": before.isoformat(),
        "valid_to": retired_on.isoformat(),
        "successor_id": new,
    }
    assert units[old]["path"] == ["H26", "H26.D02", old]
    assert units[new]["path"] == ["H26", new] and units[new]["valid_from"] == retired_on.isoformat()
    assert units[new]["valid_to"] is None and units[new]["successor_id"] is None
    assert units["H26"]["valid_from"] is None and units["H26"]["successor_id"] is None

    conn = await asyncpg.connect(ingest.database_url)
    try:
        row = await conn.fetchrow("SELECT valid_from, valid_to, successor_id, path FROM units WHERE unit_id = $1", old)
    finally:
        await conn.close()
    assert row is not None and tuple(row) == (before, retired_on, new, ["H26", "H26.D02", old])

    key = (await ingest.create_key(["H26"]))["key"]
    event_id = unique("MC-retired")
    events = [
        received_event(unique("MC-current"), "H26.D01.C01"),
        received_event(event_id, old),  # an hour ago: after the retirement
        received_event(unique("MC-bad"), old, channel="pigeon"),
        received_event(unique("MC-new"), new, occurred_at=vn_time(-timedelta(minutes=5))),
    ]
    snapshot = {
        "MaHoSo": unique("000.00.31.H26-OLD"),
        "MaTTHC": "1.004227",
        "DonViXuLy": old,
        "KenhThucHien": "1",
        "TrangThaiHoSo": "2",
        "NgayTiepNhan": (datetime.now(UTC) - timedelta(days=3)).astimezone(VN).strftime("%Y%m%d%H%M%S"),
        "NgayHenTra": (datetime.now(UTC) + timedelta(days=4)).astimezone(VN).strftime("%Y%m%d%H%M%S"),
    }
    async with ingest.client(key) as client:
        response = await client.post("/v1/events", json=events)
        dvcqg = await client.post("/v1/dvcqg/dossiers", json=[snapshot])
        plain = await client.post("/v1/events", json=[received_event(unique("MC-plain"), new)])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 3 and [r["index"] for r in body["rejected"]] == [2]
    assert body["redirected"] == [{"index": 1, "event_id": event_id, "unit_id": old, "effective_unit_id": new}]
    assert dvcqg.status_code == 200, dvcqg.text
    assert dvcqg.json()["accepted"] == 1 and dvcqg.json()["rejected"] == []
    assert [(r["index"], r["unit_id"], r["effective_unit_id"]) for r in dvcqg.json()["redirected"]] == [(0, old, new)]
    assert plain.json() == {"accepted": 1, "rejected": []}  # no `redirected` when nothing was


async def test_a_bad_registry_file_gets_every_per_row_error_and_changes_nothing(ingest: IngestUnderTest) -> None:
    a, b = unique("H26.A"), unique("H26.B")
    csv = HEADER + "\n".join(
        [
            f"{a},Xã A,commune,H26,2025-07-15,,",  # 1 boundary_not_month_start
            f"{b},Xã B,commune,H26,,2025-07-01,",  # 2 missing_successor
            "H26.X1,Xã X1,commune,H26,,,H26",  # 3 successor_without_valid_to
            "H26.X2,Xã X2,commune,H26,2025-08-01,2025-07-01,H26",  # 4 invalid_period
            "H26.X3,Xã X3,commune,H26,,2025-07-01,H26.NOPE",  # 5 unknown_successor
            "H26.X4,Xã X4,commune,H26,,2025-07-01,H26.X4",  # 6 successor_is_self
            "H26.X5,Xã X5,commune,H26,,1/7/2025,H26",  # 7 invalid_date
            "H26.X6,Xã X6,commune,H26,,2025-07-01,H26.X7",  # 8 successor_not_valid + successor_cycle
            "H26.X7,Xã X7,commune,H26,,2025-07-01,H26.X6",  # 9 successor_not_valid + successor_cycle
            "H26.X8,Xã X8,commune,H26,,2025-07-01,H26.X9",  # 10 successor_not_valid (starts later)
            "H26.X9,Xã X9,commune,H26,2025-09-01,,",  # 11 ok
            "H26,Thành phố Hà Nội,city,,,2025-07-01,H26.X9",  # 12 city_cannot_retire (+ successor_not_valid)
            "H26.STP,Sở Tư pháp,district,H26,,,",  # 13 level_changed
            "H26.X10,Xã X10,commune,H26.X9,,,",  # 14 invalid_parent (a commune)
        ]
    )
    async with ingest.admin() as admin:
        bad = await admin.put("/v1/admin/units", content=csv.encode(), headers={"Content-Type": "text/csv"})
        units = {unit["unit_id"] for unit in (await admin.get("/v1/units")).json()["items"]}
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_registry"
    found = [(e["row"], e["field"], e["error"]) for e in bad.json()["errors"]]
    assert sorted(found, key=str) == sorted(
        [
            (1, "valid_from", "boundary_not_month_start"),
            (2, "successor_id", "missing_successor"),
            (3, "successor_id", "successor_without_valid_to"),
            (4, "valid_to", "invalid_period"),
            (5, "successor_id", "unknown_successor"),
            (6, "successor_id", "successor_is_self"),
            (7, "valid_to", "invalid_date"),
            (8, "successor_id", "successor_not_valid"),
            (8, "successor_id", "successor_cycle"),
            (9, "successor_id", "successor_not_valid"),
            (9, "successor_id", "successor_cycle"),
            (10, "successor_id", "successor_not_valid"),
            (12, "valid_to", "city_cannot_retire"),
            (12, "successor_id", "successor_not_valid"),
            (13, "level", "level_changed"),
            (14, "parent_id", "invalid_parent"),
        ],
        key=str,
    )
    assert all(e["detail"].startswith(f"Dòng {e['row']}: ") and " / row " in e["detail"] for e in bad.json()["errors"])
    assert a not in units and b not in units and "H26.X9" not in units

    json_body = [
        {"unit_id": unique("H26.J"), "name": "Xã J", "level": "commune", "parent_id": "H26", "valid_to": "2025-07-01"}
    ]
    async with ingest.admin() as admin:
        bad_json = await admin.put("/v1/admin/units", json=json_body)
    assert [(e["row"], e["error"]) for e in bad_json.json()["errors"]] == [(1, "missing_successor")]
