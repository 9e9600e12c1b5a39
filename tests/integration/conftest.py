"""Integration tests run against the REAL Kafka broker and PostgreSQL that `make test` (python -m infra test) starts.

There is deliberately no skip: without the servers these tests fail, loudly, with the way to run them.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            f"{name} is not set: integration tests need the real servers. Run `make test` "
            f"(or `python -m infra backing` and export what it prints).",
            pytrace=False,
        )
    return value


@pytest.fixture(scope="session")
def database_url() -> str:
    return _required("DATABASE_URL")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return _required("KAFKA_BOOTSTRAP_SERVERS")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def with_database(database_url: str, name: str) -> str:
    base, _, _ = database_url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
async def fresh_database(database_url: str) -> AsyncIterator[str]:
    """A new, empty database for one test; dropped afterwards."""
    name = unique("t").replace("-", "_")
    admin = await asyncpg.connect(with_database(database_url, "postgres"))
    try:
        await admin.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
        yield with_database(database_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
