"""The DVCQG endpoint end-to-end, and the registry/alias admin endpoints (PostgreSQL state + effect on ingest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import orjson

from tests.integration.conftest import unique
from tests.integration.ingest.conftest import IngestUnderTest, read_topic

VN = timezone(timedelta(hours=7))


def _stamp(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).astimezone(VN).strftime("%Y%m%d%H%M%S")


def _snapshot(ma_ho_so: str, unit_reference: str) -> dict[str, object]:
    """A returned dossier with one fee: received, resolved, returned and payment events."""
    return {
        "MaHoSo": ma_ho_so,
        "MaTTHC": "1.004227",
        "DonViXuLy": unit_reference,
        "KenhThucHien": "2",
        "TrangThaiHoSo": "10",
        "NgayTiepNhan": _stamp(-timedelta(days=3)),
        "NgayHenTra": _stamp(timedelta(days=4)),
        "NgayKetThucXuLy": _stamp(-timedelta(days=1)),
        "NgayTra": _stamp(-timedelta(hours=2)),
        "DuocThanhToanTrucTuyen": "1",
        "DanhSachLePhi": [{"MaPhiLePhi": "LP01", "TenPhiLePhi": "Lệ phí", "Gia": "50000", "HinhThucThu": "1"}],
    }


async def test_same_snapshot_twice_gives_the_same_event_ids(ingest: IngestUnderTest) -> None:
    key = (await ingest.create_key(["H26.D01"]))["key"]
    async with ingest.admin() as admin:
        aliases = await admin.put("/v1/admin/unit-aliases", json={"000.00.31.H26": "H26.D01"})
        assert aliases.status_code == 200, aliases.text
    ma_ho_so = unique("000.00.31.H26-240701")
    envelope = {
        "service": "DongBoHoSoMC",
        "data": [
            _snapshot(ma_ho_so, "000.00.31.H26"),  # by alias
            _snapshot(unique("X"), "Ủy ban nhân dân Quận Nowhere"),  # unknown unit
            _snapshot(unique("Y"), "Phường Hàng Bạc"),  # by name, but outside the key's scope
            {"MaHoSo": unique("Z"), "TrangThaiHoSo": "9", "DonViXuLy": "H26.D01"},  # no NgayKetThucXuLy
        ],
    }
    async with ingest.client(key) as client:
        first = await client.post("/v1/dvcqg/dossiers", json=envelope)
        second = await client.post("/v1/dvcqg/dossiers", json=envelope["data"][0])  # bare snapshot
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["accepted"] == 4
    assert [(r["index"], r["error"]) for r in body["rejected"]] == [
        (1, "unknown_unit"),
        (2, "forbidden_unit"),
        (3, "missing_field"),
    ]
    assert second.json() == {"accepted": 4, "rejected": []}

    records = await read_topic(ingest.bootstrap, ingest.topic, at_least=8)
    mine = [orjson.loads(r.value) | {"_key": r.key} for r in records if r.key == ma_ho_so.encode()]
    ids = [event["event_id"] for event in mine]
    expected = {f"dvcqg:{ma_ho_so}:{kind}" for kind in ("received", "resolved", "returned", "payment:LP01")}
    assert set(ids) == expected
    assert sorted(ids) == sorted([*expected, *expected])  # each written twice, with identical ids
    assert all(event["unit_id"] == "H26.D01" and event["source"] == "dvcqg" for event in mine)
    payment = next(event for event in mine if event["type"] == "payment")
    assert (payment["method"], payment["amount"], payment["fee_code"]) == ("online", 50000, "LP01")


async def test_registry_upsert_stores_paths_and_rejects_bad_trees_whole(ingest: IngestUnderTest) -> None:
    new_commune = unique("H26.D02.C")
    csv = (
        "unit_id,name,level,parent_id\n"
        f"{new_commune},Phường Chương Dương,commune,H26.D02\n"
        "H26.D02,Quận Hoàn Kiếm (mới),district,H26\n"
    )
    async with ingest.admin() as admin:
        loaded = await admin.put("/v1/admin/units", content=csv.encode(), headers={"Content-Type": "text/csv"})
        bad = await admin.put(
            "/v1/admin/units",
            json=[
                {"unit_id": "H26.BAD", "name": "Xã lạc", "level": "commune", "parent_id": "H26.STP"},
                {"unit_id": "H27", "name": "Tỉnh khác", "level": "city", "parent_id": None},
                {"unit_id": "bad id", "name": "x", "level": "district", "parent_id": "H26"},
            ],
        )
        units = (await admin.get("/v1/units")).json()["items"]
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["added"] == [new_commune] and loaded.json()["updated"] == ["H26.D02"]
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_registry"
    assert {(e["row"], e["error"]) for e in bad.json()["errors"]} == {
        (1, "invalid_parent"),
        (2, "multiple_cities"),
        (3, "invalid_field"),
    }
    by_id = {unit["unit_id"]: unit for unit in units}
    assert "H26.BAD" not in by_id and "H27" not in by_id
    assert by_id[new_commune]["path"] == ["H26", "H26.D02", new_commune]
    conn = await asyncpg.connect(ingest.database_url)
    try:
        rows = await conn.fetch(
            "SELECT unit_id, name, path FROM units WHERE unit_id = ANY($1)", [new_commune, "H26.D02"]
        )
    finally:
        await conn.close()
    stored = {row["unit_id"]: (row["name"], row["path"]) for row in rows}
    assert stored == {
        new_commune: ("Phường Chương Dương", ["H26", "H26.D02", new_commune]),
        "H26.D02": ("Quận Hoàn Kiếm (mới)", ["H26", "H26.D02"]),
    }


async def test_aliases_are_validated_listed_and_deleted(ingest: IngestUnderTest) -> None:
    alias = unique("UBND phường Phúc Xá")
    csv = f"alias,unit_id\n{alias},H26.D01.C01\n"
    async with ingest.admin() as admin:
        added = await admin.put("/v1/admin/unit-aliases", content=csv.encode(), headers={"Content-Type": "text/csv"})
        bad = await admin.put("/v1/admin/unit-aliases", json=[{"alias": "x", "unit_id": "H99"}, {"alias": ""}])
        listed = (await admin.get("/v1/admin/unit-aliases")).json()["items"]
        deleted = await admin.delete(f"/v1/admin/unit-aliases/{alias}")
        missing = await admin.delete(f"/v1/admin/unit-aliases/{alias}")
        after = (await admin.get("/v1/admin/unit-aliases")).json()["items"]
    assert added.json() == {"items": [{"alias": alias, "unit_id": "H26.D01.C01"}]}
    assert bad.status_code == 422 and [e["error"] for e in bad.json()["errors"]] == ["unknown_unit", "invalid_field"]
    assert {"alias": alias, "unit_id": "H26.D01.C01"} in listed
    assert deleted.status_code == 204 and missing.status_code == 404
    assert all(item["alias"] != alias for item in after)


async def test_openapi_and_asyncapi_document_the_interfaces(ingest: IngestUnderTest) -> None:
    async with ingest.client() as client:
        openapi = (await client.get("/openapi.json")).json()
        asyncapi = (await client.get("/asyncapi.json")).json()
    events = openapi["paths"]["/v1/events"]["post"]
    assert set(events["requestBody"]["content"]) == {"application/json", "application/x-ndjson"}
    assert events["requestBody"]["content"]["application/json"]["example"][0]["type"] == "received"
    assert {"200", "401", "413", "503"} <= set(events["responses"])
    assert "DossierEvent" in openapi["components"]["schemas"]
    assert openapi["components"]["schemas"]["DossierEvent"]["properties"]["event_id"]["description"]
    assert asyncapi["asyncapi"].startswith("3.")
    assert any(channel.get("address") == ingest.topic for channel in asyncapi["channels"].values())
    assert "DossierEvent" in orjson.dumps(asyncapi).decode()
