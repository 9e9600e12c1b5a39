"""Each service's own OpenAPI document, fuzzed by Schemathesis against the running service (issue 12 item 5).

Every service is started as `make demo` starts it — its own process, the real broker, a fresh migrated database —
and Schemathesis (its CLI, in a subprocess so this event loop keeps reading the service's output) generates requests
from `/openapi.json`: valid ones, invalid ones (negative data) and methods a path does not have. The checks (listed
in tests/integration/schemathesis.toml): no 5xx, every status and its body documented, the documented Content-Type
and response headers (Retry-After, Allow), invalid data rejected, authentication enforced. Bounded: MAX_EXAMPLES
per operation and phase, deterministic; the three take about 130 s together on a 2-core machine
(docs/reliability.md, "OpenAPI fuzzing").
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.conftest import unique
from tests.integration.ingest.conftest import UNITS_CSV, create_migrated_database, create_topic, delete_topic
from tests.integration.ingest.conftest import drop_database as drop_ingest_database
from tests.integration.processes import REPO_ROOT, RunningService, service_process, wait_ready
from tests.integration.scoring.harness import create_topics, prepare_database

pytestmark = pytest.mark.integration

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
ADMIN_TOKEN = secrets.token_urlsafe(32)
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")


async def fuzz(service: RunningService, token: str, *extra: str, timeout_s: float = 150.0) -> None:
    """Run Schemathesis against `service`; fail with its report when it finds anything."""
    args = [
        "--config-file", str(CONFIG),
        "run", f"{service.base_url}/openapi.json",
        "--mode", "all",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--request-timeout", "10",
        "--workers", "1",
        "--no-color",
        "--continue-on-failure",
        "--output-truncate", "true",
        "--header", f"Authorization: Bearer {token}",
        *extra,
    ]  # fmt: skip
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.integration.fuzz_hooks"}
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        *args,
        cwd=REPO_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    # Reproduction commands can carry megabytes of body: every line is cut to 400 characters.
    report = "\n".join(line[:400] for line in output.decode("utf-8", "replace").splitlines())
    print(report)
    assert process.returncode == 0, f"Schemathesis found problems in {service.name}'s API:\n{report[-12000:]}"


@pytest.fixture
async def fresh_migrated(database_url: str) -> AsyncIterator[str]:
    name, url = await create_migrated_database(database_url)
    try:
        yield url
    finally:
        await drop_ingest_database(database_url, name)


async def test_ingest_api_fuzzed(fresh_migrated: str, kafka_bootstrap: str) -> None:
    import httpx

    topic = await create_topic(kafka_bootstrap, partitions=1)
    env = {"DATABASE_URL": fresh_migrated, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "ADMIN_TOKEN": ADMIN_TOKEN,
           "EVENTS_TOPIC": topic}  # fmt: skip
    try:
        async with service_process("ingest", **env) as service:
            await wait_ready(service)
            admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            async with httpx.AsyncClient(base_url=service.base_url, headers=admin, timeout=30) as client:
                loaded = await client.put("/v1/admin/units", content=UNITS_CSV, headers={"Content-Type": "text/csv"})
                assert loaded.status_code == 200, loaded.text
                created = await client.post("/v1/admin/api-keys", json={"name": "fuzz", "units": ["H26"]})
                assert created.status_code == 201, created.text
            # Two passes: the event routes with an API key, everything else with the admin token.
            await fuzz(service, created.json()["key"], "--include-path-regex", "^/v1/(events|dvcqg)")
            await fuzz(service, ADMIN_TOKEN, "--exclude-path-regex", "^/v1/(events|dvcqg)")
    finally:
        await delete_topic(kafka_bootstrap, topic)


async def test_scoring_api_fuzzed(fresh_database: str, kafka_bootstrap: str) -> None:
    await prepare_database(fresh_database, unique("f").replace("-", ""))
    topics = await create_topics(kafka_bootstrap, partitions=1)
    env = {"DATABASE_URL": fresh_database, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "ADMIN_TOKEN": ADMIN_TOKEN,
           **topics.env()}  # fmt: skip
    async with service_process("scoring", **env) as service:
        await wait_ready(service)
        # The SSE stream never ends: a request to it can only time out.
        await fuzz(service, ADMIN_TOKEN, "--exclude-path-regex", "/stream$")


async def test_alerts_api_fuzzed(fresh_migrated: str, kafka_bootstrap: str) -> None:
    env = {"DATABASE_URL": fresh_migrated, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "ADMIN_TOKEN": ADMIN_TOKEN,
           "INDICATORS_TOPIC": unique("indicators"), "CONSUMER_GROUP": unique("alerts")}  # fmt: skip
    async with service_process("alerts", **env) as service:
        await wait_ready(service)
        await fuzz(service, ADMIN_TOKEN, "--exclude-path-regex", "/stream$")
