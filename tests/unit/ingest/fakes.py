"""Hand-written fakes of the ingest ports (services/ingest/service/ports.py), for the use-case unit tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from services.ingest.domain.api_keys import KeyScope, NewApiKey, StoredKey, generate_api_key, scope_checker
from services.ingest.domain.unit_resolver import UnitResolver
from services.ingest.service.ports import BrokerUnavailableError
from shared.unit_loading import MergeOutcome, build_registry, merge_registry, parse_units_csv
from shared.units import UnitRecord, UnitRegistry


def registry_of(csv: str) -> UnitRegistry:
    built = build_registry(parse_units_csv(csv).records)
    assert isinstance(built, UnitRegistry), built
    return built


class FakePublisher:
    """Keeps what it was asked to publish; `down` makes it fail like a broker that did not acknowledge."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.published: list[tuple[bytes, bytes]] = []

    async def publish(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        if self.down:
            try:
                raise TimeoutError("no acks within the produce timeout")
            except TimeoutError as cause:
                raise BrokerUnavailableError(repr(cause)) from cause
        self.published.extend(records)


class FakeStore:
    """The stored registry, aliases and keys (what PostgreSQL holds), shared by the registry view and the admin."""

    def __init__(self, registry: UnitRegistry, aliases: Mapping[str, str] | None = None) -> None:
        self.registry = registry
        self.aliases = dict(aliases or {})
        self.keys: dict[str, StoredKey] = {}
        self.writes = 0

    # RegistryStore
    async def upsert_units(self, incoming: Iterable[UnitRecord]) -> MergeOutcome:
        outcome = merge_registry(self.registry if len(self.registry) else None, list(incoming))
        if outcome.registry is not None:
            self.registry = outcome.registry
            self.writes += 1
        return outcome

    async def upsert_aliases(self, aliases: Mapping[str, str]) -> None:
        self.aliases.update(aliases)
        self.writes += 1

    async def delete_alias(self, alias: str) -> bool:
        self.writes += 1
        return self.aliases.pop(alias, None) is not None

    # KeyStore
    async def create_key(self, name: str, units: list[str]) -> tuple[NewApiKey, StoredKey]:
        new = generate_api_key()
        stored = StoredKey(new.display_prefix, name, tuple(units), datetime(2026, 1, 1, tzinfo=UTC), None)
        self.keys[stored.key_id] = stored
        return new, stored

    async def list_keys(self) -> list[StoredKey]:
        return list(self.keys.values())

    async def revoke_key(self, key_id: str) -> StoredKey | None:
        stored = self.keys.get(key_id)
        if stored is None:
            return None
        if stored.revoked_at is None:
            stored = self.keys[key_id] = StoredKey(
                stored.key_id, stored.name, stored.units, stored.created_at, datetime(2026, 1, 2, tzinfo=UTC)
            )
        return stored


class FakeRegistryView:
    """The process's copy: it sees the store only after reload(), like RegistryCache."""

    def __init__(self, store: FakeStore, *, reload_on_miss: bool = True) -> None:
        self._store = store
        self._reload_on_miss = reload_on_miss
        self.reloads = 0
        self._registry = store.registry
        self._aliases = dict(store.aliases)

    @property
    def registry(self) -> UnitRegistry:
        return self._registry

    @property
    def resolver(self) -> UnitResolver:
        return UnitResolver(self._registry, self._aliases)

    @property
    def aliases(self) -> Mapping[str, str]:
        return self._aliases

    def scope_of(self, roots: Iterable[str]) -> Callable[[str], bool]:
        return scope_checker(KeyScope(frozenset(roots)), self._registry)

    async def reload(self) -> None:
        self.reloads += 1
        self._registry, self._aliases = self._store.registry, dict(self._store.aliases)

    async def reload_after_miss(self) -> bool:
        if not self._reload_on_miss:
            return False
        await self.reload()
        return True


class FakeCounters:
    def __init__(self) -> None:
        self.accepted_events: dict[str, int] = {}
        self.rejected_reasons: list[str] = []
        self.refusals: list[tuple[str, str]] = []
        self.unacknowledged_events: list[tuple[str, str, int]] = []

    def accepted(self, endpoint: str, events: int) -> None:
        self.accepted_events[endpoint] = self.accepted_events.get(endpoint, 0) + events

    def rejected(self, endpoint: str, items: Iterable[dict[str, Any]]) -> None:
        self.rejected_reasons.extend(item["error"] for item in items)

    def refused(self, endpoint: str, code: str) -> None:
        self.refusals.append((endpoint, code))

    def unacknowledged(self, endpoint: str, cause: str, events: int) -> None:
        self.unacknowledged_events.append((endpoint, cause, events))


class FakeKeyLookups:
    def __init__(self) -> None:
        self.cleared = 0

    async def lookup(self, presented: str) -> StoredKey | None:
        return None

    def clear(self) -> None:
        self.cleared += 1
