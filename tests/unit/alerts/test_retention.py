"""Outbox retention: finished messages older than the age go, in bounded chunks; the setting is validated."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from services.alerts.domain.retention import Purged, RetentionPolicy, purge_finished
from services.alerts.settings import AlertsSettings
from tests.unit.alerts.factories import T0


@dataclass
class FakeDeliveries:
    """A hand-written stand-in for alert_deliveries: (status, finished_at) per message, two outbox rows each."""

    rows: list[tuple[str, datetime | None]]
    calls: list[tuple[datetime, int]] = field(default_factory=list)

    async def delete_chunk(self, cutoff: datetime, limit: int) -> Purged:
        self.calls.append((cutoff, limit))
        doomed = [
            i for i, (status, at) in enumerate(self.rows)
            if status in ("delivered", "dead") and at is not None and at < cutoff
        ][:limit]  # fmt: skip
        for i in reversed(doomed):
            del self.rows[i]
        return Purged(messages=len(doomed), outbox_rows=2 * len(doomed))


async def test_only_finished_messages_older_than_the_age_are_purged() -> None:
    old, recent = T0 - timedelta(days=31), T0 - timedelta(days=29)
    table = FakeDeliveries(
        [("delivered", old), ("dead", old), ("pending", None), ("delivered", recent), ("dead", recent)]
    )
    result = await purge_finished(RetentionPolicy(max_age=timedelta(days=30)), T0, table.delete_chunk)
    assert result.purged == Purged(messages=2, outbox_rows=4)
    assert not result.more
    assert table.rows == [("pending", None), ("delivered", recent), ("dead", recent)]
    assert [cutoff for cutoff, _ in table.calls] == [T0 - timedelta(days=30)]


async def test_a_backlog_is_deleted_in_chunks_and_a_pass_stops_at_its_budget() -> None:
    old = T0 - timedelta(days=40)
    table = FakeDeliveries([("delivered", old)] * 25)
    policy = RetentionPolicy(max_age=timedelta(days=30), chunk_size=10, max_chunks=2)

    first = await purge_finished(policy, T0, table.delete_chunk)
    assert first.purged.messages == 20 and first.more  # budget spent with full chunks: run again soon
    assert [limit for _, limit in table.calls] == [10, 10]

    second = await purge_finished(policy, T0, table.delete_chunk)
    assert second.purged.messages == 5 and not second.more
    assert table.rows == []


async def test_an_exactly_full_last_chunk_costs_one_empty_chunk_not_a_loop() -> None:
    table = FakeDeliveries([("delivered", T0 - timedelta(days=40))] * 10)
    result = await purge_finished(RetentionPolicy(timedelta(days=30), chunk_size=10), T0, table.delete_chunk)
    assert result.purged.messages == 10 and not result.more
    assert len(table.calls) == 2


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetentionPolicy(max_age=timedelta(0))
    with pytest.raises(ValueError):
        RetentionPolicy(max_age=timedelta(days=1), chunk_size=0)


def _settings(**values: object) -> AlertsSettings:
    return AlertsSettings(
        database_url="postgresql://nobody@127.0.0.1:1/none",
        admin_token="a-real-random-admin-token-0123456789",
        **values,  # type: ignore[arg-type]
    )


def test_retention_setting_defaults_to_30_days_and_is_validated() -> None:
    assert _settings().outbox_retention_days == 30
    assert _settings(outbox_retention_days=7).outbox_retention_days == 7
    for bad in (0, -1, 0.5, 100_000):
        with pytest.raises(ValidationError):
            _settings(outbox_retention_days=bad)
    with pytest.raises(ValidationError):
        _settings(receivers_check_interval_s=0)
