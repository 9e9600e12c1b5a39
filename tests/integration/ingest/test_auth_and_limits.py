"""Keys (create, list, revoke), admin-only endpoints, and the request size limits (413)."""

from __future__ import annotations

import asyncpg
import httpx
import orjson

from services.ingest.domain.api_keys import generate_api_key
from tests.integration.conftest import unique
from tests.integration.ingest.conftest import IngestUnderTest, eventually, read_topic, received_event


async def test_missing_malformed_and_unknown_keys_get_401(ingest: IngestUnderTest) -> None:
    batch = [received_event(unique("nokey"))]
    async with ingest.client() as client:
        missing = await client.post("/v1/events", json=batch)
        malformed = await client.post("/v1/events", json=batch, headers={"Authorization": "Bearer nope"})
        unknown = await client.post(
            "/v1/events", json=batch, headers={"Authorization": f"Bearer {generate_api_key().key}"}
        )
        admin_as_key = await client.post(
            "/v1/events", json=batch, headers={"Authorization": f"Bearer {ingest.admin_token}"}
        )
    assert missing.status_code == 401 and missing.json()["error"] == "unauthorized"
    assert missing.headers["www-authenticate"] == "Bearer"
    for response in (malformed, unknown, admin_as_key):
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_api_key"


async def test_key_lifecycle_create_list_use_revoke(ingest: IngestUnderTest) -> None:
    created = await ingest.create_key(["H26.D02"], name="Một cửa quận Hoàn Kiếm")
    assert created["key"].startswith("tthc_") and created["key_id"] == created["key"][:12]
    assert created["units"] == ["H26.D02"] and created["revoked_at"] is None

    async with ingest.admin() as admin:
        listed = (await admin.get("/v1/admin/api-keys")).json()["items"]
    mine = [item for item in listed if item["key_id"] == created["key_id"]]
    assert mine == [{k: v for k, v in created.items() if k != "key"}]
    assert all("key" not in item and "key_hash" not in item for item in listed)

    prefix = unique("lifecycle")
    async with ingest.client(created["key"]) as client:
        before = await client.post("/v1/events", json=[received_event(prefix + "-1", unit_id="H26.D02.C01")])
        assert before.json() == {"accepted": 1, "rejected": []}
        async with ingest.admin() as admin:
            revoked = await admin.delete(f"/v1/admin/api-keys/{created['key_id']}")
            assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
            again = await admin.delete(f"/v1/admin/api-keys/{created['key_id']}")
            assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
            assert (await admin.delete("/v1/admin/api-keys/tthc_nothere")).status_code == 404
        after = await client.post("/v1/events", json=[received_event(prefix + "-2", unit_id="H26.D02.C01")])
    # The revoking process drops its cache at once (and others on the NOTIFY): no grace period here.
    assert after.status_code == 401 and after.json()["error"] == "revoked_api_key"
    records = await read_topic(ingest.bootstrap, ingest.topic, at_least=1)
    written = {orjson.loads(r.value)["event_id"] for r in records}
    assert prefix + "-1" in written and prefix + "-2" not in written


async def test_revocation_written_elsewhere_stops_the_key_within_the_cache_bound(ingest: IngestUnderTest) -> None:
    """A revocation by another writer that sends no NOTIFY (worst case) still bites within KEY_CACHE_TTL_S (1 s)."""
    created = await ingest.create_key(["H26"])
    async with ingest.client(created["key"]) as client:
        assert (await client.post("/v1/events", json=[])).status_code == 200  # cached as valid now
        conn = await asyncpg.connect(ingest.database_url)
        try:
            await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE key_id = $1", created["key_id"])
        finally:
            await conn.close()

        async def refused() -> httpx.Response | None:
            response = await client.post("/v1/events", json=[])
            return response if response.status_code != 200 else None

        response = await eventually(refused, timeout_s=5, interval_s=0.1)
        assert (response.status_code, response.json()["error"]) == (401, "revoked_api_key")


async def test_admin_endpoints_refuse_api_keys_and_missing_tokens(ingest: IngestUnderTest) -> None:
    key = (await ingest.create_key(["H26"]))["key"]
    calls = [
        ("GET", "/v1/admin/api-keys", None),
        ("POST", "/v1/admin/api-keys", {"name": "x", "units": ["H26"]}),
        ("DELETE", "/v1/admin/api-keys/tthc_abcdefg", None),
        ("PUT", "/v1/admin/units", [{"unit_id": "H26", "name": "Hà Nội", "level": "city", "parent_id": None}]),
        ("GET", "/v1/admin/unit-aliases", None),
        ("PUT", "/v1/admin/unit-aliases", {"Ba Đình": "H26.D01"}),
    ]
    async with ingest.client() as anonymous, ingest.client(key) as with_key:
        for method, path, body in calls:
            no_token = await anonymous.request(method, path, json=body)
            assert (no_token.status_code, no_token.json()["error"]) == (401, "unauthorized"), path
            api_key = await with_key.request(method, path, json=body)
            assert (api_key.status_code, api_key.json()["error"]) == (403, "forbidden"), path


async def test_key_request_is_validated(ingest: IngestUnderTest) -> None:
    async with ingest.admin() as admin:
        unknown_unit = await admin.post("/v1/admin/api-keys", json={"name": "x", "units": ["H99"]})
        empty = await admin.post("/v1/admin/api-keys", json={"name": " ", "units": []})
    assert unknown_unit.status_code == 422 and "H99" in unknown_unit.json()["detail"]
    assert empty.status_code == 422 and empty.json()["error"] == "invalid_request"


async def test_more_than_5000_events_is_413_and_nothing_is_written(ingest: IngestUnderTest) -> None:
    key = (await ingest.create_key(["H26"]))["key"]
    prefix = unique("toomany")
    batch = [received_event(f"{prefix}-{i}") for i in range(5001)]
    ndjson = b"\n".join(orjson.dumps(event) for event in batch)
    async with ingest.client(key) as client:
        as_json = await client.post("/v1/events", json=batch)
        as_ndjson = await client.post("/v1/events", content=ndjson, headers={"Content-Type": "application/x-ndjson"})
        exactly = await client.post("/v1/events", json=batch[:5000])
    for response in (as_json, as_ndjson):
        assert response.status_code == 413
        assert response.json()["error"] == "batch_too_large"
    assert exactly.json() == {"accepted": 5000, "rejected": []}
    records = await read_topic(ingest.bootstrap, ingest.topic, at_least=5000)
    written = [orjson.loads(r.value)["event_id"] for r in records]
    assert sum(1 for event_id in written if event_id.startswith(prefix)) == 5000
    assert f"{prefix}-5000" not in written


async def test_body_over_5_mib_is_413(ingest: IngestUnderTest) -> None:
    key = (await ingest.create_key(["H26"]))["key"]
    padding = "x" * 2_000
    batch = [received_event(unique("big"), note=padding) for _ in range(2_700)]  # ~5.9 MB, under 5,000 events
    body = orjson.dumps(batch)
    assert len(body) > 5 * 1024 * 1024

    async def chunks() -> object:  # no Content-Length: the limit must hold while streaming too
        for start in range(0, len(body), 256 * 1024):
            yield body[start : start + 256 * 1024]

    async with ingest.client(key) as client:
        declared = await client.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
        streamed = await client.post("/v1/events", content=chunks(), headers={"Content-Type": "application/json"})
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["error"] == "body_too_large"


async def test_unusable_bodies_are_refused_as_a_whole(ingest: IngestUnderTest) -> None:
    key = (await ingest.create_key(["H26"]))["key"]
    async with ingest.client(key) as client:
        not_json = await client.post("/v1/events", content=b"[{", headers={"Content-Type": "application/json"})
        not_array = await client.post("/v1/events", json={"event_id": "x"})
        csv = await client.post("/v1/events", content=b"a,b\n", headers={"Content-Type": "text/csv"})
    assert (not_json.status_code, not_json.json()["error"]) == (400, "invalid_json")
    assert (not_array.status_code, not_array.json()["error"]) == (400, "not_an_array")
    assert (csv.status_code, csv.json()["error"]) == (415, "unsupported_media_type")


async def test_an_event_too_large_for_kafka_is_rejected_alone(ingest: IngestUnderTest) -> None:
    key = (await ingest.create_key(["H26"]))["key"]
    prefix = unique("huge")
    batch = [
        received_event(f"{prefix}-0"),
        received_event(f"{prefix}-1", note="x" * 1_100_000),
        received_event(f"{prefix}-2"),
    ]
    async with ingest.client(key) as client:
        response = await client.post("/v1/events", json=batch)
    body = response.json()
    assert body["accepted"] == 2
    assert [(r["index"], r["event_id"], r["error"]) for r in body["rejected"]] == [
        (1, f"{prefix}-1", "event_too_large")
    ]
