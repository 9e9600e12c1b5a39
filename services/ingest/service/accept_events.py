"""Accepting a batch of events (`POST /v1/events`) or of national-portal snapshots (`POST /v1/dvcqg/dossiers`):
validate each item, resolve units/aliases/redirects, write the valid ones to Kafka, answer per item (SPEC §7)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.ingest.domain.batch import (
    AcceptedEvent,
    BatchResult,
    EventsBody,
    never_redirected,
    redirections,
    validate_batch,
    validate_json_body,
)
from services.ingest.domain.dvcqg import validate_dvcqg
from services.ingest.service.ports import BrokerUnavailableError, EventPublisher, IngestCounters, RegistryView
from shared.contract import ErrorCode
from shared.contract_codec import encode_checked, stamp_text

Validation = Callable[[datetime], BatchResult]
Record = tuple[bytes, bytes]


@dataclass(frozen=True, slots=True)
class Acceptance:
    """The per-item answer once the broker acknowledged every accepted event."""

    accepted: int
    rejected: list[dict[str, Any]]
    redirected: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"accepted": self.accepted, "rejected": self.rejected}
        if self.redirected:  # only then: the 200 body stays SPEC §7's {"accepted", "rejected"} otherwise
            body["redirected"] = self.redirected
        return body


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AcceptEvents:
    """One request's events: validated against the registry copy and the key's scope, published all or nothing."""

    def __init__(
        self,
        publisher: EventPublisher,
        registry: RegistryView,
        counters: IngestCounters,
        *,
        max_event_bytes: int,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._publisher = publisher
        self._registry = registry
        self._counters = counters
        self._max_event_bytes = max_event_bytes
        self._clock = clock

    async def events(self, items: Sequence[object] | EventsBody, key_units: Iterable[str]) -> Acceptance:
        """Contract events: items, or a JSON-array or NDJSON body as it came (BatchError when it is no JSON array
        or holds too many)."""
        registry, units = self._registry, tuple(key_units)

        def validate(now: datetime) -> BatchResult:
            unit_exists, in_scope = registry.registry.exists, registry.scope_of(units)
            if isinstance(items, EventsBody):
                return validate_json_body(items, now=now, unit_exists=unit_exists, in_scope=in_scope)
            return validate_batch(items, now=now, unit_exists=unit_exists, in_scope=in_scope)

        return await self._accept("events", validate)

    async def dvcqg(self, document: object, key_units: Iterable[str]) -> Acceptance:
        """A DongBoHoSoMC body; BatchError when it is no snapshot, array or envelope, or holds too many."""
        registry, units = self._registry, tuple(key_units)

        def validate(now: datetime) -> BatchResult:
            return validate_dvcqg(document, now=now, resolver=registry.resolver, in_scope=registry.scope_of(units))

        return await self._accept("dvcqg", validate)

    def refused(self, endpoint: str, code: str) -> None:
        """Count a request refused as a whole before any item was looked at (auth, size, media type, JSON)."""
        self._counters.refused(endpoint, code)

    async def _accept(self, endpoint: str, validate: Validation) -> Acceptance:
        """Validate (again after a registry reload if units were unknown) and publish — or BrokerUnavailableError,
        with nothing acknowledged to the caller."""
        now = self._clock()
        result = validate(now)
        # Another process (or the CLI) may have just added a unit this copy lacks: reload once and look again.
        unknown = any(item["error"] == ErrorCode.UNKNOWN_UNIT for item in result.rejected)
        if unknown and await self._registry.reload_after_miss():
            result = validate(now)
        records, rejected, written = records_within_limit(result, now, self._max_event_bytes)
        try:
            await self._publisher.publish(records)
        except BrokerUnavailableError as error:
            cause = error.__cause__ or error
            self._counters.unacknowledged(endpoint, type(cause).__name__, len(records))
            raise
        self._counters.accepted(endpoint, len(records))
        self._counters.rejected(endpoint, rejected)
        registry = self._registry.registry
        moved = redirections(written, registry.effective_unit, never_redirected(registry))
        return Acceptance(len(records), rejected, moved)


def records_within_limit(
    result: BatchResult, now: datetime, max_bytes: int
) -> tuple[list[Record], list[dict[str, Any]], list[AcceptedEvent]]:
    """Kafka (key, value) records, the rejections — plus `event_too_large` for records the broker would refuse —
    and the accepted events that the records carry.

    Kafka refuses a record above its `message.max.bytes` (1 MiB by default) with a non-retriable error; sent
    anyway, that would turn a client's mistake into a 503 retried forever. Such an item is rejected instead — all
    events of it when one item yields several (a DVCQG snapshot stays all-or-nothing).
    """
    stamp = stamp_text(now)  # one ingested_at for the whole request, formatted once
    if result.encoded is not None and result.stamp == stamp:  # the fast path wrote them already
        values = result.encoded
        if max(map(len, values), default=0) <= max_bytes:  # the common case, checked in C: no Python pass
            records = [
                (item.event.dossier_id.encode(), value) for item, value in zip(result.accepted, values, strict=True)
            ]
            return records, result.rejected, result.accepted
        encoded = list(zip(result.accepted, values, strict=True))
    else:
        encoded = [(item, encode_checked(item.event, stamp)) for item in result.accepted]
    too_large: dict[int, str] = {}  # item index → the first oversized event_id of it
    for item, value in encoded:
        if len(value) > max_bytes:
            too_large.setdefault(item.index, item.event.event_id)
    if not too_large:
        return [(item.event.dossier_id.encode(), value) for item, value in encoded], result.rejected, result.accepted
    detail = (
        f"Sự kiện vượt quá {max_bytes} byte khi ghi vào Kafka / the event exceeds {max_bytes} bytes as a Kafka record"
    )
    rejected = list(result.rejected)
    for index, event_id in too_large.items():
        rejected.append({"index": index, "event_id": event_id, "error": "event_too_large", "detail": detail})
    rejected.sort(key=lambda item: item["index"])
    kept = [(item, value) for item, value in encoded if item.index not in too_large]
    return [(item.event.dossier_id.encode(), value) for item, value in kept], rejected, [item for item, _ in kept]
