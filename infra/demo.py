"""The demo feed of `make demo`: the Hanoi registry, a demo API key, three months of history, then live traffic.

Everything goes through the product's own interfaces: the registry and the key through the ingest admin API, the
history straight to Kafka as a trusted producer replaying the past (SPEC §2 lets it set `ingested_at`), and the live
traffic through `POST /v1/events` with the demo key — exactly what a one-stop-shop system would do.
"""

from __future__ import annotations

import os
import sys

import httpx

from infra import paths
from infra.supervisor import Supervisor

REGISTRY = paths.REPO_ROOT / "data" / "hanoi_units.csv"
# History: 60 days at 5 % of Hanoi's volume (≈ 130 k events, a few seconds to load). Live: about 3 events a
# second — some 75× the history's pace, so that the dashboard visibly moves during a demo; rates stay realistic.
BACKFILL_DAYS = int(os.environ.get("TTHC_DEMO_BACKFILL_DAYS", "60"))
DEMO_SCALE = os.environ.get("TTHC_DEMO_SCALE", "0.05")
LIVE_RATE = os.environ.get("TTHC_DEMO_RATE", "3")


def say(message: str) -> None:
    print(f"    demo | {message}", flush=True)


async def load_registry(client: httpx.AsyncClient, admin_token: str) -> None:
    response = await client.put(
        "/v1/admin/units",
        content=REGISTRY.read_bytes(),
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "text/csv; charset=utf-8"},
    )
    response.raise_for_status()
    say(f"unit registry loaded: {REGISTRY.name}")


async def demo_api_key(client: httpx.AsyncClient, admin_token: str) -> str:
    """One key per checkout, scoped to the whole city; reused by later demos (only its hash is on the server)."""
    if paths.DEMO_API_KEY_FILE.exists():
        key = paths.DEMO_API_KEY_FILE.read_text().strip()
        probe = await client.post("/v1/events", json=[], headers={"Authorization": f"Bearer {key}"})
        if probe.status_code == 200:
            return key
    response = await client.post(
        "/v1/admin/api-keys",
        json={"name": "demo (make demo)", "units": ["H26"]},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    response.raise_for_status()
    key = str(response.json()["key"])
    paths.DEMO_API_KEY_FILE.write_text(key + "\n")
    paths.DEMO_API_KEY_FILE.chmod(0o600)
    return key


async def start_demo_feed(supervisor: Supervisor, env: dict[str, str]) -> None:
    ingest_url = f"http://127.0.0.1:{env['INGEST_PORT']}"  # the stack's wiring (infra/wiring.py) sets every port
    async with httpx.AsyncClient(base_url=ingest_url, timeout=60) as client:
        await load_registry(client, env["ADMIN_TOKEN"])
        key = await demo_api_key(client, env["ADMIN_TOKEN"])
    say(f"demo API key (scope H26, the whole city): {key}")

    simulator = [sys.executable, "-m", "simulator", "--units", str(REGISTRY), "--seed", "2024"]
    marker = paths.RUN / "demo_backfilled"
    if not marker.exists():
        say(f"back-filling {BACKFILL_DAYS} days of history at scale {DEMO_SCALE} straight into Kafka...")
        code = await supervisor.run_once(
            "backfill",
            [*simulator, "--scale", DEMO_SCALE, "--backfill-days", str(BACKFILL_DAYS), "--sink", "kafka",
             "--bootstrap", env["KAFKA_BOOTSTRAP_SERVERS"]],
            env=env, cwd=paths.REPO_ROOT,
        )  # fmt: skip
        if code != 0:
            raise RuntimeError("the history back-fill failed (see var/log/backfill.log)")
        marker.touch()
        say("history back-filled")
    else:
        say("history already back-filled by an earlier demo (delete var/run/demo_backfilled to redo)")
    await supervisor.start(
        "feed",
        # The history already holds the stuck backlog; the live run adds only new dossiers.
        [*simulator, "--rate", LIVE_RATE, "--no-backlog", "--sink", "http", "--url", ingest_url, "--api-key", key],
        env=env, cwd=paths.REPO_ROOT, critical=False,
    )  # fmt: skip
    say(f"live traffic: about {LIVE_RATE} events/s through {ingest_url}/v1/events")
    say(f"dashboard: http://127.0.0.1:{env['SCORING_PORT']}/  ·  alerts: {env['ALERTS_PUBLIC_URL']}")
