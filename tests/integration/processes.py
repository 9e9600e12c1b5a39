"""Start a real service process for a test and stop it again (reused by every service-level integration test)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.integration.conftest import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
PORT_ENV = {"ingest": "INGEST_PORT", "scoring": "SCORING_PORT", "alerts": "ALERTS_PORT"}


@dataclass
class RunningService:
    name: str
    process: asyncio.subprocess.Process
    base_url: str
    output: list[str]

    async def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 20.0) -> int:
        if self.process.returncode is None:
            self.process.send_signal(sig)
        return await asyncio.wait_for(self.process.wait(), timeout_s)


async def _collect(stream: asyncio.StreamReader, sink: list[str]) -> None:
    async for raw in stream:
        sink.append(raw.decode("utf-8", "replace").rstrip())


async def wait_ready(service: RunningService, timeout_s: float = 60.0) -> httpx.Response:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=2.0) as client, asyncio.timeout(timeout_s):
        while True:
            if service.process.returncode is not None:
                raise AssertionError(f"{service.name} exited early:\n" + "\n".join(service.output[-40:]))
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get("/readyz")
                if response.status_code == 200:
                    return response
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def service_process(name: str, port: int | None = None, **env_overrides: str) -> AsyncIterator[RunningService]:
    """Run `python -m services.<name>` on `port` (default: a free one) with the test's environment; always stopped
    afterwards."""
    port = port or free_port()
    env = {**os.environ, PORT_ENV[name]: str(port), "PYTHONUNBUFFERED": "1", **env_overrides}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", f"services.{name}",
        cwd=REPO_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output: list[str] = []
    assert process.stdout is not None
    pump = asyncio.create_task(_collect(process.stdout, output))
    service = RunningService(name, process, f"http://127.0.0.1:{port}", output)
    try:
        yield service
    except BaseException:
        # The service's own words are the best clue when a test fails.
        print(f"----- last output of {name} -----\n" + "\n".join(output[-60:]))
        raise
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pump, 5)
