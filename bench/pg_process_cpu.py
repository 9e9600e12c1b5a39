"""PostgreSQL's CPU by kind of process: the client backends (the statements) against autovacuum, the checkpointer,
the WAL writer, the I/O workers, parallel workers — so that a benchmark can tell what its statements cost from what
the server does beside them.

The postmaster's children are read every `SAMPLE_S` with psutil and classified by their process title
(`postgres: checkpointer`, `postgres: autovacuum worker`, `postgres: postgres tthc 127.0.0.1(…) idle`, …). A child
that ends between two samples (a short autovacuum or parallel worker) keeps the CPU it had at its last sample; what
no sample saw is the remainder of the server's whole CPU (`unseen`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import psutil

from bench.scoring_measure import server_cpu_s

SAMPLE_S = 0.25
KINDS = (
    ("autovacuum", "autovacuum"),
    ("checkpointer", "checkpointer"),
    ("background writer", "bgwriter"),
    ("walwriter", "walwriter"),
    ("io worker", "io worker"),
    ("parallel worker", "parallel worker"),
)


def kind_of(title: str) -> str:
    """A postmaster child's process title → its kind; anything not named is a client backend."""
    for needle, kind in KINDS:
        if needle in title:
            return kind
    return "backend"


class ProcessCpu:
    """Cumulative CPU seconds per kind of PostgreSQL process since the sampler started (`totals()`)."""

    def __init__(self, postmaster_pid: int) -> None:
        self._root = psutil.Process(postmaster_pid)
        self._seen: dict[tuple[int, float], tuple[str, float]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.sample()
        self._task = asyncio.create_task(self._loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_S)
            self.sample()

    def sample(self) -> None:
        for child in self._root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                with child.oneshot():
                    key = (child.pid, child.create_time())
                    times = child.cpu_times()
                    title = " ".join(child.cmdline()) or child.name()
                kind = self._seen[key][0] if key in self._seen else kind_of(title)
                self._seen[key] = (kind, times.user + times.system)

    def totals(self) -> Counter[str]:
        """CPU seconds per kind, and `server`: the postmaster with every child, live or reaped."""
        self.sample()
        out: Counter[str] = Counter()
        for kind, cpu in self._seen.values():
            out[kind] += cpu
        with contextlib.suppress(psutil.Error):
            times = self._root.cpu_times()
            out["postmaster"] = times.user + times.system
        out["server"] = server_cpu_s(self._root.pid)
        return out
