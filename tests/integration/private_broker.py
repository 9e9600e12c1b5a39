"""A Kafka broker of a test's own (free ports, data in a temporary directory) that the test may stop and start.

Never the shared broker of the test run: an outage test stops its own. The binaries and configuration are those of
infra/kafka_local.py (so the size limits of shared/kafka.py apply).
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from infra import kafka_local
from tests.integration.conftest import free_port


class PrivateBroker:
    """A single-node Kafka of this test's own, on free ports, with its data in a temporary directory."""

    def __init__(self, data_dir: Path) -> None:
        self.ports = kafka_local.KafkaPorts(broker=free_port(), controller=free_port())
        self.data_dir = data_dir
        self.process: asyncio.subprocess.Process | None = None

    @property
    def bootstrap(self) -> str:
        return self.ports.bootstrap

    async def start(self) -> None:
        argv = await kafka_local.prepare(self.ports, data_dir=self.data_dir)
        log = (self.data_dir / "broker.log").open("ab")
        self.process = await asyncio.create_subprocess_exec(
            *argv, stdout=log, stderr=asyncio.subprocess.STDOUT, start_new_session=True
        )
        log.close()
        await kafka_local.wait_ready(self.bootstrap, timeout_s=120)

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """SIGTERM: a controlled shutdown (tens of seconds on a busy machine); SIGKILL: a crash, at once."""
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(sig)
        try:
            await asyncio.wait_for(process.wait(), 60)
        except TimeoutError:
            process.kill()
            await process.wait()
