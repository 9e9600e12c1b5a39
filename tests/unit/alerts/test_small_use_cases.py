"""The small use cases on hand-written fakes: outbox retention, the receivers registry (API and file changes),
the rule book."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.alerts.domain.retention import Purged, RetentionPolicy
from services.alerts.domain.rules import RuleSet
from services.alerts.service.ports import ActiveRules, ApiReceivers
from services.alerts.service.receivers import ReceiverRegistry
from services.alerts.service.retention import OutboxRetention
from services.alerts.service.rule_book import RuleBook
from tests.unit.alerts.factories import T0, near_due_rule, threshold_rule
from tests.unit.alerts.fakes import FakeAlertStore, FakeApiReceivers, FakeClock, FakeOutboxStore, webhook_receivers

pytestmark = pytest.mark.unit


async def test_retention_deletes_chunks_until_one_comes_back_short() -> None:
    store = FakeOutboxStore(purge_chunks=[Purged(2, 3), Purged(1, 1)])
    retention = OutboxRetention(store, RetentionPolicy(max_age=timedelta(days=30), chunk_size=2), FakeClock())
    result = await retention.run()
    assert result.purged == Purged(3, 4) and not result.more


class FakeWatcher:
    def __init__(self, *versions: object) -> None:
        self.versions = list(versions)

    def check(self) -> object:
        return self.versions.pop(0) if self.versions else None


async def test_receivers_of_the_api_join_the_files_and_a_new_file_keeps_them() -> None:
    changes: list[str] = []
    registry = ReceiverRegistry(webhook_receivers("ops"), on_change=lambda: changes.append("changed"))
    api = webhook_receivers("pager").document.receivers[0]
    source = FakeApiReceivers(ApiReceivers((api,), {"pager": "s" * 32}))  # type: ignore[arg-type]

    assert await registry.follow_api(source, force=True)
    assert not await registry.follow_api(source)  # unchanged: nothing applied
    assert [r.name for r in registry.current.all] == ["ops", "pager"]
    assert registry.current.secret_of("pager") == "s" * 32

    assert registry.follow_file(FakeWatcher(webhook_receivers("audit")))  # type: ignore[arg-type]
    assert not registry.follow_file(FakeWatcher())  # type: ignore[arg-type]
    assert [r.name for r in registry.current.all] == ["audit", "pager"]
    assert changes == ["changed", "changed"] and source.forced == [True, False]


async def test_the_rule_book_follows_only_newer_sets() -> None:
    store = FakeAlertStore()
    first = store.add_rule_set(RuleSet((threshold_rule(),)))
    book = RuleBook(first)
    async with store.session() as session:
        assert not await book.refresh(session)
        second = store.add_rule_set(RuleSet((near_due_rule(),)))
        assert await book.refresh(session)
    assert book.active is second
    book.replace(ActiveRules(RuleSet(()), 1, "api", "late", T0))  # an older set never wins
    assert book.active is second
