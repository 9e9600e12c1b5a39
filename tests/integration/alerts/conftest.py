"""Fixtures of the alerts integration tests: a migrated fresh database, a fresh topic, a webhook receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from shared.db import apply_migrations
from tests.integration.alerts.harness import Topic, WebhookSink, kafka_topic, serve_in_background


@pytest.fixture
async def database(fresh_database: str) -> str:
    await asyncio.to_thread(apply_migrations, fresh_database)
    return fresh_database


@pytest.fixture
async def topic(kafka_bootstrap: str) -> AsyncIterator[Topic]:
    async with kafka_topic(kafka_bootstrap) as created:
        yield created


@pytest.fixture
async def sink() -> AsyncIterator[tuple[WebhookSink, str]]:
    receiver = WebhookSink()
    async with serve_in_background(receiver.app()) as base_url:
        yield receiver, f"{base_url}/hook"
