"""A PostgreSQL server of a test's own (free port, temporary data directory) that the test may stop and start.

Never the shared server of the stack: an outage test stops its own. The binaries and the unprivileged user (when
run as root) are those of infra/postgres_local.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from infra import postgres_local
from tests.integration.conftest import free_port


class PrivatePostgres:
    def __init__(self) -> None:
        self.port = free_port()
        self.user = postgres_local._run_as_user()
        self.root = Path(tempfile.mkdtemp(prefix="tthc-private-pg-"))
        self.data = self.root / "data"
        self.process: asyncio.subprocess.Process | None = None
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [postgres_local._bin("initdb"), "-D", str(self.data), "--auth=trust", "-U", "postgres",
             "--encoding=UTF8", "--no-locale", "--no-instructions"],
            check=True, user=self.user, stdout=subprocess.DEVNULL,
        )  # fmt: skip

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    async def start(self, timeout_s: float = 60.0) -> None:
        argv = [
            postgres_local._bin("postgres"), "-D", str(self.data),
            "-c", "listen_addresses=127.0.0.1", "-c", f"port={self.port}", "-c", "unix_socket_directories=",
            "-c", "max_connections=50", "-c", "fsync=off", "-c", "logging_collector=off",
            "-c", "log_min_messages=fatal",
        ]  # fmt: skip
        self.process = await asyncio.create_subprocess_exec(
            *argv, user=self.user, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        await postgres_local.wait_ready(self.admin_url, timeout_s=timeout_s)

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Fast shutdown (SIGINT): clients are disconnected, as in a real crash or restart of the server."""
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), timeout_s)
        except TimeoutError:
            process.kill()
            await process.wait()

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.asynccontextmanager
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    server = await asyncio.to_thread(PrivatePostgres)
    try:
        await server.start()
        yield server
    finally:
        await server.stop()
        server.remove()
