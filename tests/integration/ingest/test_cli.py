"""The operator CLI (`python -m services.ingest COMMAND`) as a subprocess against PostgreSQL and a running ingest."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import orjson
import pytest

from tests.integration.conftest import unique
from tests.integration.ingest.conftest import (
    IngestUnderTest,
    create_migrated_database,
    drop_database,
    read_topic,
    received_event,
    vn_time,
)
from tests.integration.processes import REPO_ROOT


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


async def run_cli(*args: str, database_url: str | None = None) -> CliResult:
    env = {**os.environ}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.ingest", *args, cwd=REPO_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return CliResult(process.returncode, stdout.decode(), stderr.decode())


@pytest.fixture
async def migrated_database(database_url: str) -> AsyncIterator[str]:
    name, url = await create_migrated_database(database_url)
    try:
        yield url
    finally:
        await drop_database(database_url, name)


async def test_units_and_keys_commands(migrated_database: str, tmp_path: Path) -> None:
    loaded = await run_cli("units", "load", str(REPO_ROOT / "data" / "units_small.csv"), database_url=migrated_database)
    assert loaded.code == 0, loaded.stderr
    assert loaded.stdout.strip() == "registry: 13 units (13 added, 0 updated, 0 unchanged)"
    again = await run_cli("units", "load", str(REPO_ROOT / "data" / "units_small.csv"), database_url=migrated_database)
    assert again.stdout.strip() == "registry: 13 units (0 added, 0 updated, 13 unchanged)"

    bad = tmp_path / "bad.json"
    bad.write_bytes(
        orjson.dumps(
            [
                {"unit_id": "H26.X", "name": "Xã lạc", "level": "commune", "parent_id": "H26.DEP.STP"},
                {"unit_id": "H26.Y", "name": "Xã Y", "level": "commune", "parent_id": "H26", "valid_to": "2025-07-01"},
            ]
        )
    )
    refused = await run_cli("units", "load", str(bad), database_url=migrated_database)
    assert refused.code == 1 and "nothing was applied" in refused.stderr
    assert "row 1: invalid_parent" in refused.stderr and "row 2: missing_successor" in refused.stderr

    # Seven columns: a commune of Ba Đình retires into a new commune directly under the city.
    retire = tmp_path / "retire.csv"
    retire.write_text(
        "unit_id,name,level,parent_id,valid_from,valid_to,successor_id\n"
        "H26.DIS.BADINH.C01,Phường Phúc Xá,commune,H26.DIS.BADINH,,2025-07-01,H26.COM.BADINH\n"
        "H26.COM.BADINH,Phường Ba Đình,commune,H26,2025-07-01,,\n",
        encoding="utf-8",
    )
    retired = await run_cli("units", "load", str(retire), database_url=migrated_database)
    assert retired.stdout.strip() == "registry: 14 units (1 added, 1 updated, 12 unchanged)", retired.stderr

    aliases = tmp_path / "aliases.csv"
    aliases.write_text("alias,unit_id\n000.00.31.H26,H26.DIS.BADINH\nUBND quận Ba Đình,H26.DIS.BADINH\n")
    aliased = await run_cli("units", "aliases", str(aliases), database_url=migrated_database)
    assert aliased.code == 0 and aliased.stdout.strip() == "aliases: 2 added or updated"

    created = await run_cli("keys", "create", "--name", "Một cửa Ba Đình", "--unit", "H26.DIS.BADINH",
                            database_url=migrated_database)  # fmt: skip
    assert created.code == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("tthc_") and f"key_id: {key[:12]}" in created.stderr
    unknown_unit = await run_cli("keys", "create", "--name", "x", "--unit", "H99", database_url=migrated_database)
    assert unknown_unit.code == 1 and "H99" in unknown_unit.stderr

    listed = orjson.loads((await run_cli("keys", "list", "--json", database_url=migrated_database)).stdout)
    assert [(item["key_id"], item["name"], item["units"]) for item in listed] == [
        (key[:12], "Một cửa Ba Đình", ["H26.DIS.BADINH"])
    ]
    revoked = await run_cli("keys", "revoke", key[:12], database_url=migrated_database)
    assert revoked.code == 0 and "revoked" in revoked.stdout
    assert (await run_cli("keys", "revoke", "tthc_missing", database_url=migrated_database)).code == 1

    conn = await asyncpg.connect(migrated_database)
    try:
        path = await conn.fetchval("SELECT path FROM units WHERE unit_id = 'H26.DIS.BADINH.C02'")
        validity = await conn.fetchrow(
            "SELECT valid_from, valid_to, successor_id FROM units WHERE unit_id = 'H26.DIS.BADINH.C01'"
        )
        new_path = await conn.fetchval("SELECT path FROM units WHERE unit_id = 'H26.COM.BADINH'")
        alias_count = await conn.fetchval("SELECT count(*) FROM unit_aliases")
        revoked_at = await conn.fetchval("SELECT revoked_at FROM api_keys WHERE key_id = $1", key[:12])
        stored = await conn.fetchval("SELECT count(*) FROM api_keys WHERE key_hash = $1 OR name = $1", key)
    finally:
        await conn.close()
    assert path == ["H26", "H26.DIS.BADINH", "H26.DIS.BADINH.C02"]
    assert tuple(validity) == (None, date(2025, 7, 1), "H26.COM.BADINH") and new_path == ["H26", "H26.COM.BADINH"]
    assert alias_count == 2 and revoked_at is not None and stored == 0  # the key itself is nowhere in the table


async def test_import_jsonl_and_csv_through_the_api(ingest: IngestUnderTest, tmp_path: Path) -> None:
    key = (await ingest.create_key(["H26.D01"]))["key"]
    prefix = unique("import")
    valid = [received_event(f"{prefix}-j{i}") for i in range(12_000)]  # three requests of ≤ 5,000
    lines = [orjson.dumps(event).decode() for event in valid]
    lines.insert(3, "{broken json")
    lines.insert(7, "")
    lines.insert(10, orjson.dumps(received_event(f"{prefix}-out", unit_id="H26.D02.C01")).decode())
    jsonl = tmp_path / "export.jsonl"
    jsonl.write_text("\n".join(lines) + "\n")

    result = await run_cli("import", str(jsonl), "--url", ingest.service.base_url, "--key", key, "--no-progress")
    assert result.code == 1, result.stderr
    assert "records:  12002" in result.stderr and "accepted: 12000" in result.stderr
    assert "  forbidden_unit: 1" in result.stderr and "  invalid_json: 1" in result.stderr
    rejected = [orjson.loads(line) for line in (tmp_path / "export.jsonl.rejected.jsonl").read_text().splitlines()]
    assert [(item["line"], item["error"]) for item in rejected] == [(4, "invalid_json"), (11, "forbidden_unit")]
    assert rejected[1]["event_id"] == f"{prefix}-out" and rejected[0]["record"] == "{broken json"

    csv_path = tmp_path / "export.csv"
    due = vn_time(timedelta(days=5))
    csv_path.write_text(
        "\ufeffevent_id,dossier_id,unit_id,type,occurred_at,channel,due_at,digitized,ghi_chu\n"
        f'{prefix}-c1,HS-1,H26.D01.C02,received,{vn_time()},direct,{due},TRUE,"Hồ sơ, có dấu phẩy"\n'
        f"{prefix}-c2,HS-2,H26.D01.C02,received,{vn_time()},fax,{due},false,\n"
        f"{prefix}-c3,HS-3,H26.D01\n"
    )
    csv_result = await run_cli(
        "import", str(csv_path), "--url", ingest.service.base_url, "--key", key, "--no-progress",
        "--rejected", str(tmp_path / "csv-rejects.jsonl"),
    )  # fmt: skip
    assert csv_result.code == 1, csv_result.stderr
    csv_rejected = [orjson.loads(line) for line in (tmp_path / "csv-rejects.jsonl").read_text().splitlines()]
    assert [(item["line"], item["error"]) for item in csv_rejected] == [(3, "invalid_field"), (4, "invalid_row")]

    records = await read_topic(ingest.bootstrap, ingest.topic, at_least=12_001)
    mine = {orjson.loads(r.value)["event_id"]: orjson.loads(r.value) for r in records if r.key.startswith(b"HS-")}
    assert sum(1 for event_id in mine if event_id.startswith(f"{prefix}-j")) == 12_000
    assert f"{prefix}-out" not in mine and f"{prefix}-c2" not in mine
    assert mine[f"{prefix}-c1"]["digitized"] is True and mine[f"{prefix}-c1"]["ghi_chu"] == "Hồ sơ, có dấu phẩy"


async def test_import_with_a_revoked_or_wrong_key_stops(ingest: IngestUnderTest, tmp_path: Path) -> None:
    jsonl = tmp_path / "one.jsonl"
    jsonl.write_text(orjson.dumps(received_event(unique("nokey"))).decode() + "\n")
    result = await run_cli(
        "import", str(jsonl), "--url", ingest.service.base_url, "--key", "tthc_wrong", "--no-progress"
    )
    assert result.code == 4 and "invalid_api_key" not in result.stdout and "HTTP 401" in result.stderr


async def test_asyncapi_command_writes_the_document(tmp_path: Path) -> None:
    out = tmp_path / "asyncapi.json"
    result = await run_cli("asyncapi", "--out", str(out), "--topic", "dossier-events")
    assert result.code == 0, result.stderr
    document = orjson.loads(out.read_bytes())
    assert document["channels"]["dossier-events:publish"]["address"] == "dossier-events"
