"""HTTP caching of the read API on the real broker and database, with the local stack's scoring topology: an API
process that never applies (SCORING_ROLE=api) and two applying processes in one consumer group.

A committed batch must change the ETag and the body of exactly the periods and units it touched, a 304 must never
answer changed figures, and every process — the API-only one included, which learns of batches only through
PostgreSQL NOTIFY — must answer identical bodies (same ETags) for the same figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from tests.integration.conftest import unique
from tests.integration.processes import RunningService, service_process, wait_ready
from tests.integration.scoring.harness import (
    ScoringTopics,
    create_topics,
    ingested_after,
    prepare_database,
    produce,
    profile_with_min_dossiers,
    utc,
    vn,
    wait_for,
)

# Live figures as of the start of an hour: both processes show the same instant (no tick passes mid-test).
TICK = "3600"


@contextlib.asynccontextmanager
async def scoring_topology(
    database_url: str, bootstrap: str, topics: ScoringTopics, applying: int = 2
) -> AsyncIterator[list[RunningService]]:
    """[the API process, then `applying` applying processes], as infra/stack.py starts them."""
    env = dict(DATABASE_URL=database_url, KAFKA_BOOTSTRAP_SERVERS=bootstrap, LIVE_TICK_S=TICK,
               PROFILE_PATH=str(profile_with_min_dossiers(1)), **topics.env())  # fmt: skip
    async with contextlib.AsyncExitStack() as stack:
        roles = ["api"] + ["consumer"] * applying
        services = [await stack.enter_async_context(service_process("scoring", **env, SCORING_ROLE=role))
                    for role in roles]  # fmt: skip
        await asyncio.gather(*(wait_ready(service) for service in services))
        yield services


async def applied(client: httpx.AsyncClient, service: RunningService) -> float:
    text = (await client.get(f"{service.base_url}/metrics")).text
    found = re.search(r"^tthc_scoring_events_applied_total (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def received(p: str, n: str, unit: str, at: str) -> list[dict]:
    """A dossier received and resolved on time the same day (closed figures only: no live change)."""
    occurred, done = vn(f"{at} 09:00"), vn(f"{at} 15:00")
    base = {"dossier_id": f"{p}-{n}", "unit_id": unit}
    return [
        {**base, "event_id": f"{p}-{n}a", "type": "received", "occurred_at": occurred,
         "ingested_at": ingested_after(occurred), "channel": "online", "due_at": vn(f"{at} 17:00")},
        {**base, "event_id": f"{p}-{n}b", "type": "resolved", "occurred_at": done,
         "ingested_at": ingested_after(done), "outcome": "approved"},
    ]  # fmt: skip


PATHS = {
    "rank-sep-commune": ("/v1/rankings", {"level": "commune", "period": "2026-09"}),
    "rank-sep-district": ("/v1/rankings", {"level": "district", "period": "2026-09"}),
    "rank-sep-department": ("/v1/rankings", {"level": "department", "period": "2026-09"}),
    "rank-aug-commune": ("/v1/rankings", {"level": "commune", "period": "2026-08"}),
    "rank-now-commune": ("/v1/rankings", {"level": "commune"}),
    "ind-px-sep": ("/v1/units/{p}.BD.PX/indicators", {"period": "2026-09"}),
    "ind-bd-sep": ("/v1/units/{p}.BD/indicators", {"period": "2026-09"}),
    "ind-stp-sep": ("/v1/units/{p}.STP/indicators", {"period": "2026-09"}),
    "ind-bv-sep": ("/v1/units/{p}.BV/indicators", {"period": "2026-09"}),
    "ind-px-aug": ("/v1/units/{p}.BD.PX/indicators", {"period": "2026-08"}),
    "summary-sep": ("/v1/summary", {"period": "2026-09"}),
    "summary-aug": ("/v1/summary", {"period": "2026-08"}),
    "units": ("/v1/units", {}),
}
TOUCHED_BY_PX = {"rank-sep-commune", "rank-sep-district", "ind-px-sep", "ind-bd-sep", "summary-sep"}
RANKED_WITH_BD = {"ind-bv-sep"}
"""Ba Vì's figures are untouched, but Ba Đình now ranks beside it in September: only its rank fields change."""


async def snapshot(client: httpx.AsyncClient, base: str, p: str) -> dict[str, tuple[str, bytes]]:
    out = {}
    for name, (path, params) in PATHS.items():
        response = await client.get(base + path.format(p=p), params=params)
        assert response.status_code == 200, (name, response.text)
        out[name] = (response.headers["etag"], response.content)
    return out


async def settled(client: httpx.AsyncClient, services: list[RunningService], p: str) -> dict[str, tuple[str, bytes]]:
    """Every process's answers once they agree (each has applied or been told of every committed batch)."""

    async def every() -> list[dict[str, tuple[str, bytes]]]:
        return [await snapshot(client, s.base_url, p) for s in services]

    return (await wait_for(every, lambda answers: all(a == answers[0] for a in answers), timeout_s=30))[0]


@pytest.fixture
async def scenario(fresh_database: str, kafka_bootstrap: str):
    prefix = unique("u").replace("-", "")
    await prepare_database(fresh_database, prefix)
    return prefix, fresh_database, await create_topics(kafka_bootstrap)


async def test_a_batch_changes_the_etag_of_exactly_what_it_touched_and_every_process_agrees(
    scenario, kafka_bootstrap: str
) -> None:
    p, database_url, topics = scenario
    async with (
        scoring_topology(database_url, kafka_bootstrap, topics) as services,
        httpx.AsyncClient(timeout=10) as client,
    ):
        await produce(kafka_bootstrap, topics.events, received(p, "D1", f"{p}.STP", "2026-09-02")
                      + received(p, "D2", f"{p}.BD.TB", "2026-08-12"))  # fmt: skip
        stp = f"{services[0].base_url}/v1/units/{p}.STP/indicators"  # the API process: told through NOTIFY
        await wait_for(lambda: client.get(stp, params={"period": "2026-09"}),
                       lambda r: r.status_code == 200 and r.json()["counters"]["received"] == 1)  # fmt: skip
        before = await settled(client, services, p)

        # Conditional requests: the same figures are a 304 from either process, with any encoding's tag.
        for service in services:
            for name in ("rank-sep-commune", "ind-stp-sep", "units"):
                path, params = PATHS[name]
                etag = before[name][0]
                again = await client.get(service.base_url + path.format(p=p), params=params,
                                         headers={"If-None-Match": etag})  # fmt: skip
                assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag

        # A batch that touches Phúc Xá in September only.
        await produce(kafka_bootstrap, topics.events, received(p, "D3", f"{p}.BD.PX", "2026-09-10"))
        await wait_for(lambda: client.get(services[0].base_url + PATHS["ind-px-sep"][0].format(p=p),
                                          params={"period": "2026-09"}),
                       lambda r: r.json()["counters"]["received"] == 1)  # fmt: skip
        after = await settled(client, services, p)
        # Only the applying processes applied: the API process read every figure it served.
        counts = [await applied(client, service) for service in services]
        assert counts[0] == 0 and counts[1] + counts[2] >= 6, counts
        changed = {name for name in PATHS if after[name] != before[name]}
        assert changed == TOUCHED_BY_PX | RANKED_WITH_BD
        for name in RANKED_WITH_BD:
            old, new = orjson.loads(before[name][1]), orjson.loads(after[name][1])
            assert {k for k in old if old[k] != new[k]} <= {"rank", "rank_of"} and old["counters"] == new["counters"]
        for name in changed:
            assert after[name][0] != before[name][0] and after[name][1] != before[name][1]

        # A 304 is never the answer to a tag of changed figures: the new body comes, from either process.
        for service in services:
            for name in TOUCHED_BY_PX:
                path, params = PATHS[name]
                response = await client.get(service.base_url + path.format(p=p), params=params,
                                            headers={"If-None-Match": before[name][0]})  # fmt: skip
                assert response.status_code == 200 and response.content == after[name][1]


async def test_bodies_are_compressed_as_accepted_and_rankings_page_and_filter(scenario, kafka_bootstrap: str) -> None:
    p, database_url, topics = scenario
    async with (
        scoring_topology(database_url, kafka_bootstrap, topics, applying=0) as services,
        httpx.AsyncClient(timeout=10) as client,
    ):
        base = services[0].base_url
        plain = await client.get(f"{base}/v1/units", headers={"Accept-Encoding": "identity"})
        br = await client.get(f"{base}/v1/units", headers={"Accept-Encoding": "br"})
        gz = await client.get(f"{base}/v1/units", headers={"Accept-Encoding": "gzip"})
        assert br.headers["content-encoding"] == "br" and gz.headers["content-encoding"] == "gzip"
        assert br.content == plain.content == gz.content  # httpx decodes both
        assert plain.headers["cache-control"].startswith("public, max-age=")

        async def rank(**params: object) -> httpx.Response:
            return await client.get(f"{base}/v1/rankings", params={"level": "commune", "period": "2026-08", **params})

        closed = await rank()
        assert "max-age=3600" in closed.headers["cache-control"]
        full = closed.json()
        assert full["next_cursor"] is None and len(full["items"]) == 4
        first = (await rank(limit=3)).json()
        rest = (await rank(limit=3, cursor=first["next_cursor"])).json()
        assert first["items"] + rest["items"] == full["items"] and rest["next_cursor"] is None
        found = (await rank(q="phuc xa")).json()
        assert [item["unit_id"] for item in found["items"]] == [f"{p}.BD.PX"]
        bad = await client.get(f"{base}/v1/rankings", params={"cursor": "not a cursor"})
        assert bad.status_code == 422 and bad.json()["error"] == "invalid_cursor"


def open_overdue(p: str, n: str, unit: str) -> dict:
    """A dossier received three days ago and due yesterday, still open: overdue in the live figures now."""
    now = datetime.now(UTC)
    occurred = utc(now - timedelta(days=3))
    return {"event_id": f"{p}-{n}a", "dossier_id": f"{p}-{n}", "unit_id": unit, "type": "received",
            "occurred_at": occurred, "ingested_at": occurred, "channel": "online",
            "due_at": utc(now - timedelta(days=1))}  # fmt: skip


async def test_forecasts_dossiers_and_profile_are_kept_per_version_and_every_process_agrees(
    scenario, kafka_bootstrap: str
) -> None:
    """The bodies once computed per request — the month-end forecasts, a unit's overdue dossiers, the profile —
    are kept per version of the figures: an open dossier changes exactly the forecasts and dossier pages it is in,
    a 304 never answers them with the old tag, and every process answers the same bytes."""
    p, database_url, topics = scenario
    paths = {
        "forecast-px": f"/v1/units/{p}.BD.PX/forecast",
        "forecast-stp": f"/v1/units/{p}.STP/forecast",  # a department: another level, another ranking
        "forecasts-commune": "/v1/forecasts?level=commune",
        "forecasts-department": "/v1/forecasts?level=department",
        "overdue-bd": f"/v1/units/{p}.BD/dossiers?state=overdue",
        "overdue-bv": f"/v1/units/{p}.BV/dossiers?state=overdue",
        "profile": "/v1/profile",
    }
    async with (
        scoring_topology(database_url, kafka_bootstrap, topics) as services,
        httpx.AsyncClient(timeout=10) as client,
    ):

        async def answers() -> list[dict[str, tuple[int, str, bytes]]]:
            out = []
            for service in services:
                got = {name: await client.get(service.base_url + path) for name, path in paths.items()}
                out.append({name: (r.status_code, r.headers.get("etag", ""), r.content) for name, r in got.items()})
            return out

        def agree(found: list[dict[str, tuple[int, str, bytes]]]) -> bool:
            return all(a == found[0] for a in found) and all(v[0] == 200 for v in found[0].values())

        before = (await wait_for(answers, agree, timeout_s=30))[0]
        await produce(kafka_bootstrap, topics.events, [open_overdue(p, "O1", f"{p}.BD.PX")])
        await wait_for(lambda: client.get(services[0].base_url + paths["forecast-px"]),
                       lambda r: r.json()["overdue_open"] == 1)  # fmt: skip
        after = (await wait_for(answers, agree, timeout_s=30))[0]
        changed = {name for name in paths if after[name] != before[name]}
        assert changed == {"forecast-px", "forecasts-commune", "overdue-bd"}
        assert [item["dossier_id"] for item in orjson.loads(after["overdue-bd"][2])["items"]] == [f"{p}-O1"]

        for service in services:
            for name, path in paths.items():
                response = await client.get(service.base_url + path, headers={"If-None-Match": before[name][1]})
                if name in changed:  # the old tag names old figures: the new body, never a 304
                    assert response.status_code == 200 and response.content == after[name][2], name
                else:
                    assert response.status_code == 304 and response.headers["etag"] == before[name][1], name
