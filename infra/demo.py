"""The demo feed of `make demo`: the Hanoi registry, a demo API key, 18 months of history, then live traffic.

Everything goes through the product's own interfaces: the registry and the key through the ingest admin API, the
history straight to Kafka as a trusted producer replaying the past (SPEC §2 lets it set `ingested_at`), and the live
traffic through `POST /v1/events` with the demo key — exactly what a one-stop-shop system would do.
"""

from __future__ import annotations

import os
import sys
from datetime import date, datetime
from pathlib import Path

import httpx

from infra import paths
from infra.supervisor import Supervisor
from simulator.worktime import VN_TZ

# Hanoi's registry in both eras: the departments before and after the 1 March 2025 merger, the 30 districts and 526
# communes retired on 1 July 2025, the 126 communes since (docs/registry-sources.md).
REGISTRY = paths.REPO_ROOT / "data" / "hanoi_registry.csv"
# History: whole calendar months, from the first day of the month 18 months back (on 30 November 2026: 1 May 2025,
# 18 months and 29 days earlier), so the July 2025 reform is visible with two months before it, and every 12-month
# chart, "vs last month" and "vs two months ago" of the current month rest on warm months, not on the back-fill's
# cold start. Scale: the largest that keeps `make demo` ready in about 2 minutes here (docs/simulator.md, "The demo").
# The amounts' defaults, also listed in the README's settings table (infra/settings_table.py).
DEFAULTS = {"TTHC_DEMO_BACKFILL_MONTHS": "18", "TTHC_DEMO_SCALE": "0.015", "TTHC_DEMO_RATE": "3",
            "TTHC_DEMO_WARMUP_DAYS": "0.25"}  # fmt: skip
BACKFILL_MONTHS = int(os.environ.get("TTHC_DEMO_BACKFILL_MONTHS", DEFAULTS["TTHC_DEMO_BACKFILL_MONTHS"]))
DEMO_SCALE = os.environ.get("TTHC_DEMO_SCALE", DEFAULTS["TTHC_DEMO_SCALE"])
# Live: about 3 events a second (≈ 450 × the history's scale). The live run first simulates six hours (its warm-up)
# and sends, first thing, the events so far of the dossiers still in progress (`--send-open`): it starts with
# dossiers in several stages, and every resolution it sends has its receipt, so the month's on-time rate counts it.
# A longer warm-up would send more lifecycles from the first minute, but its burst (≈ 23 k events for six hours, 485 k
# for ten days) lands in the current month at the live scale. Never before the current month (Vietnam time): the
# previous month's figures stay the history's.
LIVE_RATE = os.environ.get("TTHC_DEMO_RATE", DEFAULTS["TTHC_DEMO_RATE"])
LIVE_WARM_UP_DAYS = float(os.environ.get("TTHC_DEMO_WARMUP_DAYS", DEFAULTS["TTHC_DEMO_WARMUP_DAYS"]))


# The live feed's log (the supervisor appends to it): its last write tells when an earlier demo's feed stopped.
FEED_LOG = paths.LOGS / "feed.log"


def history_start(today: date, months: int) -> str:
    """The first day of the month `months` months before `today`'s month, YYYY-MM-DD."""
    index = today.year * 12 + today.month - 1 - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}-01"


def live_warm_up_days(now: datetime, days: float, last_fed: datetime | None = None) -> float:
    """`days`, cut so that the warm-up starts no earlier than the first day of `now`'s month (aware, Vietnam time),
    nor than `last_fed`, the last moment an earlier demo feed of this checkout was running: a demo restarted within
    the month would otherwise send again, under new dossier ids, a window its earlier feed already filled, and
    inflate that window's receipts."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if last_fed is not None:
        start = max(start, last_fed)
    return max(0.0, min(days, (now - start).total_seconds() / 86_400))


def last_fed(feed_log: Path) -> datetime | None:
    """When an earlier demo feed last ran: its log's last write (it prints its progress every 10 s), Vietnam time."""
    try:
        return datetime.fromtimestamp(feed_log.stat().st_mtime, VN_TZ)
    except FileNotFoundError:
        return None


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
        since = history_start(datetime.now(VN_TZ).date(), BACKFILL_MONTHS)
        say(f"back-filling history since {since} at scale {DEMO_SCALE} straight into Kafka...")
        code = await supervisor.run_once(
            "backfill",
            [*simulator, "--scale", DEMO_SCALE, "--from", since, "--sink", "kafka",
             "--bootstrap", env["KAFKA_BOOTSTRAP_SERVERS"]],
            env=env, cwd=paths.REPO_ROOT,
        )  # fmt: skip
        if code != 0:
            raise RuntimeError("the history back-fill failed (see var/log/backfill.log)")
        marker.touch()
        say("history back-filled")
    else:
        say("history already back-filled by an earlier demo (delete var/run/demo_backfilled to redo)")
    # Rounded before the test: in a month's first instants a warm-up printed as 0.000000 would be refused.
    warm_up_days = round(live_warm_up_days(datetime.now(VN_TZ), LIVE_WARM_UP_DAYS, last_fed(FEED_LOG)), 6)
    if warm_up_days < LIVE_WARM_UP_DAYS:
        say(f"warm-up cut to {warm_up_days * 24:.2f} h: it starts no earlier than this month and the last feed")
    warm_up = ["--warm-up-days", f"{warm_up_days:.6f}", "--send-open"] if warm_up_days > 0 else []
    await supervisor.start(
        "feed",
        # The history already holds the stuck backlog; the live run adds only new dossiers.
        [*simulator, "--rate", LIVE_RATE, *warm_up, "--no-backlog",
         "--sink", "http", "--url", ingest_url, "--api-key", key],
        env=env, cwd=paths.REPO_ROOT, critical=False,
    )  # fmt: skip
    sent_first = f"the {warm_up_days * 24:.1f} warm-up hours' dossiers in progress first, then " if warm_up else ""
    say(
        f"live traffic: {sent_first}about 1 event/s at first, rising towards {LIVE_RATE} as dossiers progress, "
        f"through {ingest_url}/v1/events"
    )
    say(f"dashboard: http://127.0.0.1:{env['SCORING_PORT']}/  ·  alerts: {env['ALERTS_PUBLIC_URL']}")
