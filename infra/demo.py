"""The demo feed: registry, a demo API key, simulated traffic. Filled in once ingest and the simulator land."""

from __future__ import annotations

from infra.supervisor import Supervisor


async def start_demo_feed(supervisor: Supervisor, env: dict[str, str]) -> None:
    print("   stack | demo feed: not available yet", flush=True)
