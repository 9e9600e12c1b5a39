"""A reorganisation in the middle of a stream, on the real broker and database (issue 10, SPEC §1, §5).

Phường Trúc Bạch and Quán Thánh (of Quận Ba Đình) are merged into a new Phường Ba Đình directly under the city on
2025-07-01, and the district is retired into it too. June's events arrive before the registry knows of the
reform; July's after — one of them from a legacy system still sending Trúc Bạch's code. A department's first
events arrive before it is registered: they wait as pending dead letters and are applied when it is. The figures,
ranks and live counters below are worked out by hand from the SPEC, and `recompute` must find 0 differences.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import date, timedelta
from typing import Any

import asyncpg

from services.scoring.settings import REPO_ROOT
from shared.db import apply_migrations
from tests.integration.conftest import unique
from tests.integration.registry import insert_units
from tests.integration.scoring.harness import (
    create_topics,
    get_json,
    ingested_after,
    produce,
    scoring_service,
    vn,
    wait_for,
)

REFORM = date(2025, 7, 1)


def ev(event_id: str, dossier: str, unit: str, kind: str, at: str, **fields: Any) -> dict[str, Any]:
    occurred = vn(at)
    return {"event_id": event_id, "dossier_id": dossier, "unit_id": unit, "type": kind, "occurred_at": occurred,
            "ingested_at": ingested_after(occurred, timedelta(hours=1)), **fields}  # fmt: skip


def received(p: str, dossier: str, unit: str, at: str, due: str) -> dict[str, Any]:
    return ev(f"{dossier}-rcv", f"{p}-{dossier}", unit, "received", at, channel="online", due_at=vn(due))


def resolved(p: str, dossier: str, unit: str, at: str) -> dict[str, Any]:
    return ev(f"{dossier}-res", f"{p}-{dossier}", unit, "resolved", at, outcome="approved")


async def recompute(url: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.scoring.entrypoints.recompute", "--database-url", url,
        cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode()


async def dead_letter_statuses(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT status, count(*) AS n FROM dlq_records GROUP BY status")
    finally:
        await conn.close()
    return {row["status"]: row["n"] for row in rows}


def counters(body: dict[str, Any], *names: str) -> tuple[int, ...]:
    return tuple(body["counters"][name] for name in names)


async def test_a_reorganisation_mid_stream_ends_with_exact_figures(fresh_database: str, kafka_bootstrap: str) -> None:
    p = unique("r").replace("-", "")
    city, bd, tb, qt, bv, tt = (f"{p}.H26", f"{p}.BD", f"{p}.BD.TB", f"{p}.BD.QT", f"{p}.BV", f"{p}.BV.TT")
    new_ward, late_department = f"{p}.P.BADINH", f"{p}.SNNMT"
    await asyncio.to_thread(apply_migrations, fresh_database)
    await insert_units(fresh_database, [
        (city, "Thành phố Hà Nội", "city", None),
        (bd, "Quận Ba Đình", "district", city),
        (tb, "Phường Trúc Bạch", "commune", bd),
        (qt, "Phường Quán Thánh", "commune", bd),
        (bv, "Huyện Ba Vì", "district", city),
        (tt, "Thị trấn Tây Đằng", "commune", bv),
    ])  # fmt: skip
    topics = await create_topics(kafka_bootstrap)
    june = [
        *(received(p, "D1", tb, "2025-06-10 09:00", "2025-06-20 17:00"), resolved(p, "D1", tb, "2025-06-15 10:00")),
        received(p, "D2", qt, "2025-06-12 09:00", "2025-06-25 17:00"),  # never resolved: late from 25 June on
        received(p, "D3", tb, "2025-06-28 09:00", "2025-07-15 17:00"),  # open at the reform
        *(received(p, "D6", tt, "2025-06-05 09:00", "2025-06-10 17:00"), resolved(p, "D6", tt, "2025-06-09 10:00")),
    ]
    # The department's first events, before it is registered: pending until it is.
    early = [received(p, "D5", late_department, "2025-07-03 09:00", "2025-07-30 17:00"),
             resolved(p, "D5", late_department, "2025-07-20 10:00")]  # fmt: skip
    july = [
        resolved(p, "D3", new_ward, "2025-07-10 10:00"),  # the open dossier is finished by the successor
        # A legacy one-stop-shop system still sends Trúc Bạch's code after its retirement.
        *(received(p, "D4", tb, "2025-07-05 09:00", "2025-07-20 17:00"), resolved(p, "D4", tb, "2025-07-18 10:00")),
    ]
    async with scoring_service(fresh_database, kafka_bootstrap, topics) as svc:
        await produce(kafka_bootstrap, topics.events, june + early, shuffle=3)
        await wait_for(lambda: get_json(svc, f"/v1/units/{city}/indicators", period="2025-06"),
                       lambda body: body.get("counters", {}).get("events") == 6)  # fmt: skip
        await wait_for(lambda: dead_letter_statuses(fresh_database), lambda s: s.get("pending") == 2)

        # The reform is registered (as ingest's registry load writes it), and the department.
        await insert_units(fresh_database, [
            (new_ward, "Phường Ba Đình", "commune", city, REFORM, None, None),
            (bd, "Quận Ba Đình", "district", city, None, REFORM, new_ward),
            (tb, "Phường Trúc Bạch", "commune", bd, None, REFORM, new_ward),
            (qt, "Phường Quán Thánh", "commune", bd, None, REFORM, new_ward),
            (late_department, "Sở Nông nghiệp và Môi trường", "department", city),
        ])  # fmt: skip
        await produce(kafka_bootstrap, topics.events, july, shuffle=5)
        await wait_for(lambda: dead_letter_statuses(fresh_database), lambda s: s == {"applied": 2})
        ward_july = await wait_for(lambda: get_json(svc, f"/v1/units/{new_ward}/indicators", period="2025-07"),
                                   lambda body: body.get("counters", {}).get("resolved") == 2)  # fmt: skip

        # June: the old units, as they were; the new ward did not exist yet.
        names = ("received", "resolved", "resolved_on_time", "progress_total", "progress_on_time")
        expected_june = {tb: (2, 1, 1, 2, 2), qt: (1, 0, 0, 1, 0), bd: (3, 1, 1, 3, 2), tt: (1, 1, 1, 1, 1),
                         city: (4, 2, 2, 4, 3), new_ward: (0, 0, 0, 0, 0)}  # fmt: skip
        for unit, expected in expected_june.items():
            body = await get_json(svc, f"/v1/units/{unit}/indicators", period="2025-06")
            assert counters(body, *names) == expected, unit
        communes_june = await get_json(svc, "/v1/rankings", level="commune", period="2025-06")
        # Trúc Bạch and Tây Đằng tie on score and progress rate (50 of 72 points): unit_id decides.
        assert [item["unit_id"] for item in communes_june["items"] if item["rank"]] == [tb, tt, qt]
        assert communes_june["rank_of"] == 3

        # July: Ba Đình ward has the legacy receipt, both resolutions and the carried-over dossiers; the old units
        # have nothing and are not listed.
        assert counters(ward_july, *names) == (1, 2, 2, 3, 2)  # in play: D2 (late), D3, D4
        expected_july = {tb: (0, 0, 0, 0, 0), bd: (0, 0, 0, 0, 0), late_department: (1, 1, 1, 1, 1),
                         city: (2, 3, 3, 4, 3)}  # fmt: skip
        for unit, expected in expected_july.items():
            body = await get_json(svc, f"/v1/units/{unit}/indicators", period="2025-07")
            assert counters(body, *names) == expected, unit
        communes_july = await get_json(svc, "/v1/rankings", level="commune", period="2025-07")
        assert [(i["unit_id"], i["rank"], i["unranked_reason"]) for i in communes_july["items"]] == [
            (new_ward, 1, None),
            (tt, None, "no_data"),
        ]
        districts_july = await get_json(svc, "/v1/rankings", level="district", period="2025-07")
        assert [item["unit_id"] for item in districts_july["items"]] == [bv]  # Ba Đình is gone
        tb_july = await get_json(svc, f"/v1/units/{tb}/indicators", period="2025-07")
        assert (tb_july["rank"], tb_july["unranked_reason"]) == (None, "not_in_period")

        # Live, today: the dossier Quán Thánh left open is overdue at the new ward (and the city), not at the old.
        assert ward_july["live"]["open"] == 1 and ward_july["live"]["overdue_open"] == 1
        for unit, expected in ((qt, 0), (bd, 0), (city, 1)):
            live = (await get_json(svc, f"/v1/units/{unit}/indicators"))["live"]
            assert live["overdue_open"] == expected, unit
        overdue = await get_json(svc, f"/v1/units/{new_ward}/dossiers", state="overdue")
        assert [item["dossier_id"] for item in overdue["items"]] == [f"{p}-D2"]

        units = {u["unit_id"]: u for u in (await get_json(svc, "/v1/units"))["items"]}
        assert units[new_ward]["predecessors"] == sorted([bd, qt, tb])
        assert (units[tb]["valid_to"], units[tb]["successor_id"]) == ("2025-07-01", new_ward)

    code, output = await recompute(fresh_database)
    assert code == 0, output
    assert "0 differing keys" in output
