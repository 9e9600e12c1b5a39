"""The shipped nginx configuration (docs/proxy/nginx.conf), RUN in front of scoring: it caches the public read paths
and passes conditional requests correctly.

A real nginx (Debian's package, installed by infra/nginx.sh from `make test`) runs the shipped file with only its
addresses moved: the compose hosts `scoring`, `scoring-2`, `scoring-3` become this test's API process and applying
process, `listen 8080` a free port, the cache directory a temporary one. Checked: a second request is answered from
nginx's cache (`X-Cache-Status: HIT`, no request reached scoring), `If-None-Match` gets a 304 from the cache, an
expired entry is revalidated with scoring's ETag (scoring answers 304, nginx keeps the body), and after a committed
batch the proxy serves the new body — never a 304 for the old tag. Fails (never skips) when nginx is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import free_port
from tests.integration.processes import REPO_ROOT, RunningService
from tests.integration.scoring.harness import produce, wait_for
from tests.integration.scoring.test_http_cache import received, scenario, scoring_topology  # noqa: F401

pytestmark = pytest.mark.integration

CONFIG = REPO_ROOT / "docs" / "proxy" / "nginx.conf"
LOG_FORMAT = "$request_uri $status upstream=$upstream_status cache=$upstream_cache_status"


def proxy_config(api: str, applying: str, listen: int, workdir: Path) -> str:
    """The shipped server configuration with the compose addresses replaced by the test's, inside the minimal
    top-level nginx.conf a standalone nginx needs (the shipped file is what goes in conf.d/ of the nginx image)."""
    site = CONFIG.read_text()
    site = re.sub(r"\bscoring:8002\b", api, site)
    site = re.sub(r"\bscoring-[23]:8002\b", applying, site)
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{listen};")
    site = site.replace("/var/cache/nginx/tthc", str(workdir / "cache"))
    assert "scoring:" not in site and "8080" not in site, "the shipped file changed shape: update this test"
    user = "user root;" if os.geteuid() == 0 else ""  # workers as root may write the test's own temporary dirs
    return f"""
{user}
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    log_format probe '{LOG_FORMAT}';
    access_log {workdir}/access.log probe;
    log_subrequest on;  # the background revalidation (proxy_cache_background_update) is a subrequest
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
{site}
}}
"""


@contextlib.asynccontextmanager
async def nginx(api: RunningService, applying: RunningService, workdir: Path) -> AsyncIterator[str]:
    binary = shutil.which("nginx")
    if binary is None:
        pytest.fail("Debian's nginx is missing: run `sudo bash infra/nginx.sh` (make test does)")
    listen = free_port()
    config = workdir / "nginx.conf"
    config.write_text(proxy_config(api.base_url.removeprefix("http://"),
                                   applying.base_url.removeprefix("http://"), listen, workdir))  # fmt: skip
    process = await asyncio.create_subprocess_exec(binary, "-c", str(config), "-p", str(workdir))
    try:
        proxy = f"http://127.0.0.1:{listen}"
        async with httpx.AsyncClient(timeout=2) as client:

            async def answers() -> bool:  # scoring's /healthz through the proxy
                assert process.returncode is None, (workdir / "error.log").read_text()
                try:
                    return (await client.get(f"{proxy}/healthz")).status_code == 200
                except httpx.HTTPError:
                    return False

            await wait_for(answers, bool, timeout_s=15)
        yield proxy
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 10)


def upstream_log(workdir: Path, path: str) -> list[str]:
    """The access log lines of requests for `path` (as nginx logged them: status, upstream status, cache status)."""
    log = workdir / "access.log"
    return [line for line in log.read_text().splitlines() if line.startswith(path + " ")] if log.exists() else []


async def test_nginx_caches_the_read_paths_and_passes_conditional_requests(
    scenario,  # noqa: F811
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    p, database_url, topics = scenario
    headers = {"Accept-Encoding": "br"}
    async with (
        scoring_topology(database_url, kafka_bootstrap, topics, applying=1) as (api, applying),
        nginx(api, applying, tmp_path) as proxy,
        httpx.AsyncClient(timeout=10) as client,
    ):
        # A closed month's rankings (an hour's max-age): the first request goes to scoring, the second does not.
        closed = "/v1/rankings?level=commune&period=2026-08"
        first = await client.get(proxy + closed, headers=headers)
        second = await client.get(proxy + closed, headers=headers)
        direct = await client.get(api.base_url + closed, headers=headers)
        assert first.status_code == second.status_code == 200
        assert first.headers["x-cache-status"] == "MISS" and second.headers["x-cache-status"] == "HIT"
        assert second.content == direct.content and second.headers["etag"] == direct.headers["etag"]
        assert [line.split()[2] for line in upstream_log(tmp_path, closed)] == ["upstream=200", "upstream=-"]

        # A client holding the body revalidates at the proxy: 304 from the cache, without a body.
        again = await client.get(proxy + closed, headers={**headers, "If-None-Match": second.headers["etag"]})
        assert again.status_code == 304 and again.content == b"" and again.headers["x-cache-status"] == "HIT"

        # The current month's summary (max-age=1): cached, then revalidated with scoring's ETag once expired —
        # scoring answers 304 (the figures did not change) and nginx keeps serving the same body.
        summary = "/v1/summary?period=2026-09"
        cached = await client.get(proxy + summary, headers=headers)
        assert cached.status_code == 200

        def revalidated() -> bool:
            return any(line.split()[2] == "upstream=304" for line in upstream_log(tmp_path, summary))

        async def expired_read() -> httpx.Response:
            await asyncio.sleep(1.1)  # past max-age=1: the next read makes nginx revalidate (in the background)
            return await client.get(proxy + summary, headers=headers)

        await wait_for(expired_read, lambda _: revalidated(), timeout_s=15)
        assert (await client.get(proxy + summary, headers=headers)).content == cached.content

        # A committed batch changes September: the proxy comes to serve the new body, and a client's old tag gets
        # that body (200), never a 304.
        await produce(kafka_bootstrap, topics.events, received(p, "P1", f"{p}.BD.PX", "2026-09-10"))
        await wait_for(lambda: client.get(api.base_url + summary),
                       lambda r: r.json()["counters"]["received"] == 1)  # fmt: skip
        fresh = await wait_for(
            lambda: client.get(proxy + summary, headers={**headers, "If-None-Match": cached.headers["etag"]}),
            lambda r: r.status_code == 200,
            timeout_s=15,
        )
        assert fresh.json()["counters"]["received"] == 1 and fresh.headers["etag"] != cached.headers["etag"]
        direct_now = await client.get(api.base_url + summary, headers=headers)
        assert fresh.content == direct_now.content
        # Nothing the proxy answered for the old tag after the change was a 304.
        for _ in range(3):
            r = await client.get(proxy + summary, headers={**headers, "If-None-Match": cached.headers["etag"]})
            assert r.status_code == 200 and r.json()["counters"]["received"] == 1

        # The stream passes through unbuffered: its first event (`retry`) arrives through the proxy.
        async with client.stream("GET", proxy + "/v1/stream") as stream:
            assert stream.status_code == 200
            first_line = await asyncio.wait_for(anext(stream.aiter_lines()), 10)
            assert first_line.startswith("retry:")
