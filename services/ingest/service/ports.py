"""The small interfaces the ingest use cases run on. `adapters/` implements them (Kafka, PostgreSQL, HTTP,
Prometheus); the unit tests implement them with plain fakes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from services.ingest.domain.api_keys import NewApiKey, StoredKey
from services.ingest.domain.unit_resolver import UnitResolver
from shared.unit_loading import MergeOutcome
from shared.units import UnitRecord, UnitRegistry


class BrokerUnavailableError(Exception):
    """The broker did not acknowledge the whole publish; nothing of it may be reported as accepted."""


class EventPublisher(Protocol):
    async def publish(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Write (key, value) records and return once every one is acknowledged; else BrokerUnavailableError."""


class RegistryView(Protocol):
    """The process's copy of the unit registry and its aliases, reloadable from the store."""

    @property
    def registry(self) -> UnitRegistry: ...

    @property
    def resolver(self) -> UnitResolver: ...

    @property
    def aliases(self) -> Mapping[str, str]: ...

    def scope_of(self, roots: Iterable[str]) -> Callable[[str], bool]:
        """A membership test for the units under `roots` (an API key's scope)."""

    async def reload(self) -> None: ...

    async def reload_after_miss(self) -> bool:
        """Reload because a request named an unknown unit, unless that was done just now; whether it reloaded."""


class IngestCounters(Protocol):
    """What the accept use case counts (Prometheus in production)."""

    def accepted(self, endpoint: str, events: int) -> None: ...

    def rejected(self, endpoint: str, items: Iterable[dict[str, Any]]) -> None: ...

    def refused(self, endpoint: str, code: str) -> None: ...

    def unacknowledged(self, endpoint: str, cause: str, events: int) -> None: ...


class RegistryStore(Protocol):
    """The stored registry; every write tells the other processes (they reload their copies)."""

    async def upsert_units(self, incoming: Iterable[UnitRecord]) -> MergeOutcome: ...

    async def upsert_aliases(self, aliases: Mapping[str, str]) -> None: ...

    async def delete_alias(self, alias: str) -> bool: ...


class KeyStore(Protocol):
    """Stored API keys (only their hashes); a revocation tells the other processes."""

    async def create_key(self, name: str, units: list[str]) -> tuple[NewApiKey, StoredKey]: ...

    async def list_keys(self) -> list[StoredKey]: ...

    async def revoke_key(self, key_id: str) -> StoredKey | None: ...


class KeyLookups(Protocol):
    """This process's cache of key lookups."""

    async def lookup(self, presented: str) -> StoredKey | None: ...

    def clear(self) -> None: ...


class EventSender(Protocol):
    """Posts one NDJSON body of events to an ingest API; (HTTP status, JSON body), status 0 when never delivered.

    Retrying 429/503/network errors is the sender's business: the answer it returns is the definitive one."""

    async def send(self, body: bytes) -> tuple[int, dict[str, Any]]: ...


class ImportProgress(Protocol):
    def advance(self, lines: int, *, accepted: int, rejected: int) -> None: ...
