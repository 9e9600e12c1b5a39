"""Dossier state: the order-independent merge of a dossier's events (SPEC §3).

The state keeps every distinct event (its winning copy, SPEC §2) as a compact ``FactRecord`` and derives the
rest from them. Keeping the records — not just the derived fields — is what makes merging more events into a
stored state exact: a late duplicate with an earlier ingested_at can replace a copy that already counted, and
an event dated earlier can take over the receipt, the resolution or the effective due.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from datetime import datetime
from operator import attrgetter
from typing import Any, Final, NamedTuple

from services.scoring.domain.facts import (
    HOLD_TYPES,
    PAYMENT,
    RATING,
    RECEIVED,
    RELEASE_TYPES,
    RESOLVED,
    WITHDRAWN,
    FactRecord,
)
from services.scoring.domain.timebase import Instant, to_instant

STATE_FORMAT_VERSION: Final = 1
_HOLD_OR_RELEASE: Final = HOLD_TYPES | RELEASE_TYPES
_SPEC_ORDER: Final = attrgetter("occurred_at", "event_id")
# The named tuples below are built with every field through tuple.__new__ (a C call) on the per-dossier path:
# their own __new__ is a Python function, several times the cost once the rest is compiled.
_new: Final = tuple.__new__


class Receipt(NamedTuple):
    """Tiếp nhận: the earliest ``received`` event. Its unit is the dossier's home unit."""

    event_id: str
    unit_id: str
    received_at: Instant
    channel: str
    digitized: bool
    reused_data: bool


class Resolution(NamedTuple):
    """Có kết quả: the earliest ``resolved`` event."""

    event_id: str
    unit_id: str
    resolved_at: Instant
    outcome: str
    e_result: bool


class Withdrawal(NamedTuple):
    """Rút hồ sơ: the earliest ``withdrawn`` event."""

    event_id: str
    unit_id: str
    withdrawn_at: Instant


class Rating(NamedTuple):
    """Đánh giá: the latest ``rating`` event (a new rating replaces the old one)."""

    event_id: str
    unit_id: str
    rated_at: Instant
    level: str


class DossierState(NamedTuple):
    """Everything scoring knows about one dossier; equal event sets give equal states.

    Times are ``Instant`` (integer microseconds, UTC); see ``timebase.to_datetime``. A named tuple rather than a
    frozen dataclass: the consumer builds two per changed dossier (loaded, merged), and a frozen dataclass's
    ``__init__`` (one ``object.__setattr__`` per field) measured four times the cost of a tuple's construction.
    """

    dossier_id: str
    records: tuple[FactRecord, ...]
    """Every distinct event (winning copy), in SPEC order: occurred_at, then event_id."""
    procedure_id: str | None
    """From the receipt if it names one, else from the first event (SPEC order) that does."""
    receipt: Receipt | None
    effective_due: Instant | None
    """due_at of the latest event (SPEC order) that carries one."""
    resolution: Resolution | None
    withdrawal: Withdrawal | None
    hold_flips: tuple[Instant, ...]
    """Instants where "on hold" flips, starting from not on hold: on hold at t iff an odd number are ≤ t."""
    payments: tuple[FactRecord, ...]
    rating: Rating | None

    @property
    def home_unit(self) -> str | None:
        return self.receipt.unit_id if self.receipt is not None else None

    @property
    def ended_at(self) -> Instant | None:
        """A dossier ends at the earlier of its resolution and its withdrawal (SPEC §4)."""
        resolved = self.resolution.resolved_at if self.resolution is not None else None
        withdrawn = self.withdrawal.withdrawn_at if self.withdrawal is not None else None
        if resolved is None:
            return withdrawn
        if withdrawn is None:
            return resolved
        return min(resolved, withdrawn)

    @property
    def is_open(self) -> bool:
        """Has a receipt and no resolution or withdrawal is known (live counter ``open``)."""
        return self.receipt is not None and self.resolution is None and self.withdrawal is None

    def on_hold_at(self, instant: Instant) -> bool:
        """SPEC §3: the latest hold event at or before t is later than the latest release event at or before t."""
        return bisect_right(self.hold_flips, instant) % 2 == 1

    def on_hold_at_datetime(self, moment: datetime) -> bool:
        return self.on_hold_at(to_instant(moment))

    def to_dict(self) -> dict[str, Any]:
        """A compact JSON-able form (the adapter stores it as JSONB); the derived fields are rebuilt on load."""
        return {
            "v": STATE_FORMAT_VERSION,
            "dossier_id": self.dossier_id,
            "events": [record.to_row() for record in self.records],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DossierState:
        if data.get("v") != STATE_FORMAT_VERSION:
            raise ValueError(f"phiên bản trạng thái không hỗ trợ / unsupported state version: {data.get('v')!r}")
        records = [FactRecord.from_row(row) for row in data["events"]]
        return derive_state(str(data["dossier_id"]), records, ordered=True)  # stored in SPEC order (to_dict)


def merge(records: Iterable[tuple[str, FactRecord]], base: DossierState | None = None) -> DossierState:
    """Merge (dossier_id, record) pairs of one dossier, optionally into a stored state (SPEC §3).

    The result depends only on the set of distinct event_ids and, per event_id, on the copy with the earliest
    ingested_at — never on arrival order. When ``base`` is given and nothing changes (every event is a losing
    duplicate), ``base`` itself is returned, so callers can skip work with an ``is`` check.
    """
    dossier_id: str | None = base.dossier_id if base is not None else None
    own: list[FactRecord] = []
    for record_dossier, record in records:
        if dossier_id is None:
            dossier_id = record_dossier
        elif record_dossier != dossier_id:
            raise ValueError(
                f"sự kiện {record.event_id} thuộc hồ sơ khác ({record_dossier} ≠ {dossier_id}) / "
                f"event {record.event_id} belongs to another dossier ({record_dossier} != {dossier_id})"
            )
        own.append(record)
    if dossier_id is None:
        raise ValueError("không có sự kiện nào để hợp nhất / nothing to merge: no events and no base state")
    return merge_records(dossier_id, own, base)


def merge_records(dossier_id: str, records: Iterable[FactRecord], base: DossierState | None = None) -> DossierState:
    """``merge`` for records known to be of the dossier ``dossier_id``; ``base``, when given, must be that
    dossier's stored state."""
    merged = merge_changes(dossier_id, records, base)
    return merged[0] if merged is not None else base  # type: ignore[return-value]  # None only with a base


def merge_changes(
    dossier_id: str, records: Iterable[FactRecord], base: DossierState | None = None
) -> tuple[DossierState, list[FactRecord], list[FactRecord]] | None:
    """``merge_records`` that also says what changed: (new state, records it gained, records of ``base`` they
    replaced — a copy of the same event_id that lost to an earlier-ingested one). None when nothing changed
    (every record a losing duplicate of ``base``); with no base, every winner is gained (none: an empty state)."""
    stored: tuple[FactRecord, ...] = base.records if base is not None else ()
    # The stored copy of an event_id: a scan of a few records costs less than a dict of them (built, hashed) —
    # most dossiers hold a handful; a long one is indexed.
    index = {record.event_id: record for record in stored} if len(stored) > _SCAN_AT_MOST else None
    gained: dict[str, FactRecord] = {}
    replaced: list[FactRecord] = []
    for record in records:
        event_id = record.event_id
        current = gained.get(event_id)
        if current is None:  # not gained yet in this call: the stored copy, if any
            current = index.get(event_id) if index is not None else _find(stored, event_id)
            if current is None or _wins_over(record, current):
                if current is not None:
                    replaced.append(current)
                gained[event_id] = record
        elif _wins_over(record, current):  # a copy gained in this call is simply superseded
            gained[event_id] = record
    if not gained and base is not None:
        return None
    news = list(gained.values())
    if base is None:
        return derive_state(dossier_id, news), news, replaced
    if not replaced and stored:
        # The usual case: every new event is dated after all the stored ones — continue the stored derivation
        # instead of re-sorting and re-reading every record (equal states: tests/unit/scoring/test_merge.py).
        last = stored[-1].occurred_at
        if all(record.occurred_at > last for record in news):
            return _extend(base, _spec_sorted(news)), news, replaced
    winners = {record.event_id: record for record in stored}
    winners.update(gained)
    return derive_state(dossier_id, winners.values()), news, replaced


_SCAN_AT_MOST: Final = 12


def _find(records: tuple[FactRecord, ...], event_id: str) -> FactRecord | None:
    for record in records:
        if record.event_id == event_id:
            return record
    return None


def _spec_sorted(records: list[FactRecord]) -> tuple[FactRecord, ...]:
    """The records in SPEC order (distinct event_ids): as they are when they already are — a batch's records of a
    dossier mostly come in order — else sorted."""
    for position in range(1, len(records)):
        before, record = records[position - 1], records[position]
        if record.occurred_at < before.occurred_at or (
            record.occurred_at == before.occurred_at and record.event_id < before.event_id
        ):
            return tuple(sorted(records, key=_SPEC_ORDER))
    return tuple(records)


def _wins_over(candidate: FactRecord, current: FactRecord) -> bool:
    if candidate.ingested_at != current.ingested_at:
        return candidate.ingested_at < current.ingested_at
    if candidate == current:  # the same copy again (a replayed batch): compared in C, no key built
        return False
    return candidate.copy_key() < current.copy_key()


def derive_state(dossier_id: str, records: Iterable[FactRecord], *, ordered: bool = False) -> DossierState:
    """Build the state from distinct records (one per event_id) in a single pass in SPEC order (``ordered``: the
    records already are)."""
    ordered_records = tuple(records) if ordered else _spec_sorted(list(records))
    return _derive(dossier_id, ordered_records, _EMPTY)


class _Derived(NamedTuple):
    """What the pass over the records in SPEC order carries from one record to the next."""

    receipt: Receipt | None
    resolution: Resolution | None
    withdrawal: Withdrawal | None
    rating: Rating | None
    due: Instant | None
    first_procedure: str | None
    receipt_procedure: str | None
    payments: tuple[FactRecord, ...]
    hold_flips: tuple[Instant, ...]


_EMPTY = _Derived(None, None, None, None, None, None, None, (), ())


def _extend(base: DossierState, newer: tuple[FactRecord, ...]) -> DossierState:
    """``derive_state`` of base's records followed by ``newer`` (SPEC order, all dated after base's last record),
    continuing from what base derived. Base's ``procedure_id`` stands unless it is None (then the first newer
    record naming one gives it), or a newer receipt names one (base had no receipt: it becomes the receipt)."""
    carried: _Derived = _new(_Derived, (base.receipt, base.resolution, base.withdrawal, base.rating,
                                        base.effective_due, base.procedure_id, None, base.payments,
                                        base.hold_flips))  # fmt: skip
    return _derive(base.dossier_id, base.records + newer, carried, len(base.records))


def _derive(dossier_id: str, records: tuple[FactRecord, ...], carried: _Derived, start: int = 0) -> DossierState:
    """One pass over ``records[start:]`` in SPEC order, from what the records before ``start`` derived."""
    receipt, resolution, withdrawal, rating, due, first_procedure, receipt_procedure, payments, flips = carried
    new_payments: list[FactRecord] | None = None  # both made when first needed: most passes need neither
    # Per instant, the hold status left by the last hold/release event at that instant (SPEC order).
    hold_status_at: dict[Instant, bool] | None = None
    for index in range(start, len(records)):
        record = records[index]
        kind = record.type
        if record.due_at is not None:
            due = record.due_at
        if first_procedure is None and record.procedure_id is not None:
            first_procedure = record.procedure_id
        if kind in _HOLD_OR_RELEASE:
            if hold_status_at is None:
                hold_status_at = {}
            hold_status_at[record.occurred_at] = kind in HOLD_TYPES
        elif kind == PAYMENT:
            if new_payments is None:
                new_payments = []
            new_payments.append(record)
        elif kind == RATING:
            rating = _new(Rating, (record.event_id, record.unit_id, record.occurred_at, record.level or ""))
        elif kind == RECEIVED:
            if receipt is None:
                receipt = _new(Receipt, (record.event_id, record.unit_id, record.occurred_at, record.channel or "",
                                         record.digitized, record.reused_data))  # fmt: skip
                receipt_procedure = record.procedure_id
        elif kind == RESOLVED:
            if resolution is None:
                resolution = _new(Resolution, (record.event_id, record.unit_id, record.occurred_at,
                                               record.outcome or "", record.e_result))  # fmt: skip
        elif kind == WITHDRAWN and withdrawal is None:
            withdrawal = _new(Withdrawal, (record.event_id, record.unit_id, record.occurred_at))
    if hold_status_at is not None:
        new_flips: list[Instant] = list(flips)
        on_hold = len(new_flips) % 2 == 1
        for instant, status in hold_status_at.items():
            if status != on_hold:
                new_flips.append(instant)
                on_hold = status
        flips = tuple(new_flips)
    procedure_id = receipt_procedure if receipt_procedure is not None else first_procedure
    all_payments = payments + tuple(new_payments) if new_payments else payments
    # In DossierState's field order: dossier_id, records, procedure_id, receipt, effective_due, resolution,
    # withdrawal, hold_flips, payments, rating.
    state: DossierState = _new(DossierState, (dossier_id, records, procedure_id, receipt, due, resolution, withdrawal,
                                              flips, all_payments, rating))  # fmt: skip
    return state
