"""Every PromQL query of the shipped Grafana dashboard, evaluated by a REAL Prometheus scraping a running stack.

The stack: ingest, two scoring processes (one consumer group) and alerts, as `make demo` runs them, on a fresh
database with the small registry and a few events of the current month. Prometheus (Debian's package, installed by
infra/prometheus.sh from `make test`) runs on the shipped infra/prometheus/prometheus.yml with its targets moved to
this stack's ports and a 1 s scrape interval; each expression of infra/grafana/dashboards/tthc-pulse.json, with
`$level` set to each of its values, must return at least one series through the HTTP API. Also checked: both
scoring processes export the per-unit gauges of every unit of the month, the same series (docs/metrics.md).
Bounded: about 30 s on a 2-core machine. Fails (never skips) when Prometheus is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import shutil
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.integration.conftest import free_port, unique
from tests.integration.processes import REPO_ROOT, RunningService, service_process, wait_ready
from tests.integration.registry import small_registry
from tests.integration.scoring.harness import create_topics, prepare_database, produce, scoring_service, utc

pytestmark = pytest.mark.integration

DASHBOARD = REPO_ROOT / "infra" / "grafana" / "dashboards" / "tthc-pulse.json"
PROMETHEUS_CONFIG = REPO_ROOT / "infra" / "prometheus" / "prometheus.yml"
ADMIN_TOKEN = secrets.token_urlsafe(32)
QUERY_DEADLINE_S = 25.0
UNIT_SERIES = re.compile(r"^(tthc_unit_(?:score|rate|live))\{([^}]*)\}", re.MULTILINE)


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, expression) for every target of every panel, each `$level` value substituted."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    variables = {v["name"]: [o["value"] for o in v.get("options", [])] for v in dashboard["templating"]["list"]}
    queries: list[tuple[str, str]] = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expressions = [target["expr"]]
            for name, values in variables.items():
                if f"${name}" in target["expr"]:
                    expressions = [e.replace(f"${name}", value) for e in expressions for value in values]
            queries += [(panel["title"], expression) for expression in expressions]
    assert all("$" not in expression for _, expression in queries), "a dashboard variable the test does not know"
    return queries


def prometheus_config(targets: dict[str, list[str]]) -> dict[str, Any]:
    """The shipped configuration, scraping every second the test stack's ports instead of the compose hosts."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"}
    assert {job["job_name"] for job in config["scrape_configs"]} == set(targets)
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": targets[job["job_name"]]}]
    return config


def month_events(prefix: str, now: datetime) -> list[dict[str, Any]]:
    """A few dossiers of the current month: open and overdue, resolved on time, at a department and two communes."""

    def at(minutes: int) -> str:
        return utc(now + timedelta(minutes=minutes))

    def event(number: str, dossier: str, unit: str, kind: str, minutes: int, **fields: Any) -> dict[str, Any]:
        return {"event_id": f"{prefix}-{number}", "dossier_id": f"{prefix}-{dossier}", "unit_id": f"{prefix}.{unit}",
                "type": kind, "occurred_at": at(minutes), "ingested_at": at(minutes), **fields}  # fmt: skip

    received = {"channel": "online", "procedure_id": "1.000001"}
    return [
        event("1", "D1", "BD.PX", "received", -15, due_at=at(-5), **received),  # overdue, open
        event("2", "D2", "BV.TT", "received", -14, due_at=at(2880), **received),
        event("3", "D2", "BV.TT", "resolved", -3, outcome="approved", e_result=True),
        event("4", "D3", "STP", "received", -13, due_at=at(2880), **received),
        event("5", "D3", "STP", "resolved", -2, outcome="approved"),
    ]


@contextlib.asynccontextmanager
async def prometheus(config: dict[str, Any], workdir: Path) -> AsyncIterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("Debian's prometheus is missing: run `sudo bash infra/prometheus.sh` (make test does)")
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    address = f"127.0.0.1:{free_port()}"
    process = await asyncio.create_subprocess_exec(
        binary, f"--config.file={path}", f"--storage.tsdb.path={workdir / 'data'}", f"--web.listen-address={address}",
        "--log.level=warn", stdout=asyncio.subprocess.DEVNULL, stderr=sys.stderr,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(timeout=2) as client, asyncio.timeout(20):
            while True:
                assert process.returncode is None, "prometheus exited at start"
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://{address}/-/ready")).status_code == 200:
                        break
                await asyncio.sleep(0.2)
        yield f"http://{address}"
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def unit_series(client: httpx.AsyncClient, service: RunningService) -> set[tuple[str, str]]:
    text = (await client.get(f"{service.base_url}/metrics")).text
    return set(UNIT_SERIES.findall(text))


async def test_every_dashboard_query_returns_series_from_a_real_prometheus(
    fresh_database: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    queries = dashboard_queries()
    if shutil.which("prometheus") is None:
        pytest.fail("Debian's prometheus is missing: run `sudo bash infra/prometheus.sh` (make test does)")
    prefix = unique("m").replace("-", "")
    await prepare_database(fresh_database, prefix)
    topics = await create_topics(kafka_bootstrap, partitions=2)
    common = {"DATABASE_URL": fresh_database, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "ADMIN_TOKEN": ADMIN_TOKEN}
    async with contextlib.AsyncExitStack() as stack:
        scoring_1, scoring_2 = await asyncio.gather(
            stack.enter_async_context(scoring_service(fresh_database, kafka_bootstrap, topics)),
            stack.enter_async_context(scoring_service(fresh_database, kafka_bootstrap, topics)),
        )
        ingest = await stack.enter_async_context(
            # Two processes, as the stack runs it; their metrics directory in tmp_path (the harness SIGKILLs them).
            service_process(
                "ingest",
                **common,
                EVENTS_TOPIC=topics.events,
                INGEST_PROCESSES="2",
                PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "ingest-metrics"),
            )
        )
        alerts = await stack.enter_async_context(
            service_process(
                "alerts",
                **common,
                INDICATORS_TOPIC=topics.indicators,
                CONSUMER_GROUP=unique("alerts"),
                SCORING_URL=scoring_1.base_url,
            )
        )
        await asyncio.gather(wait_ready(ingest), wait_ready(alerts))
        await produce(kafka_bootstrap, topics.events, month_events(prefix, datetime.now(UTC)))

        units = {unit_id for unit_id, *_ in small_registry(prefix)}
        async with httpx.AsyncClient(timeout=5) as client, asyncio.timeout(30):
            # Both processes, whichever consumed the events: every unit of the month, the same series.
            while True:
                first, second = await unit_series(client, scoring_1), await unit_series(client, scoring_2)
                scored = {labels for name, labels in first if name == "tthc_unit_score"}
                if len(scored) >= 5 and first == second:  # city, a department, two districts, two communes…
                    break
                await asyncio.sleep(0.3)
            exported = {re.search(r'unit_id="([^"]+)"', labels).group(1) for _, labels in first}  # type: ignore[union-attr]
            assert exported == units

        host = {service.name: service.base_url.removeprefix("http://") for service in (ingest, alerts)}
        targets = {
            "tthc-ingest": [host["ingest"]],
            "tthc-scoring": [s.base_url.removeprefix("http://") for s in (scoring_1, scoring_2)],
            "tthc-alerts": [host["alerts"]],
        }
        async with prometheus(prometheus_config(targets), tmp_path) as base_url, httpx.AsyncClient(timeout=5) as api:
            missing = dict.fromkeys(expression for _, expression in queries)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + QUERY_DEADLINE_S
            while missing and loop.time() < deadline:
                for expression in list(missing):
                    answer = (await api.get(f"{base_url}/api/v1/query", params={"query": expression})).json()
                    assert answer["status"] == "success", (expression, answer)
                    if answer["data"]["result"]:
                        del missing[expression]
                if missing:
                    await asyncio.sleep(0.5)
            titles = {expression: title for title, expression in queries}
            assert not missing, "queries without series: " + "; ".join(f"[{titles[e]}] {e}" for e in missing)
            scraped = (await api.get(f"{base_url}/api/v1/query", params={"query": 'up{job=~"tthc-.*"} == 1'})).json()
            assert len(scraped["data"]["result"]) == 4, "ingest, both scoring processes and alerts scraped"
