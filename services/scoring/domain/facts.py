"""The scoring domain's input: one dossier status event, independent of the wire contract.

``FactRecord`` is the one form an event takes between the decoder (adapters/wire.py, from Kafka record bytes) and
the domain, and the compact form the dossier state keeps for every distinct event: instants as integers and only
the fields that belong to the event's type, so a stored state can be merged again exactly. It travels paired with
its dossier_id, which the state holds once.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from services.scoring.domain.timebase import Instant
from shared.contract import EventType

# The type names are the event contract's (shared/contract.py); plain str values keep comparisons and JSON cheap.
# Final: the compiled modules read them as C statics, not through the module's dict.
RECEIVED: Final[str] = EventType.RECEIVED.value
SUPPLEMENT_REQUESTED: Final[str] = EventType.SUPPLEMENT_REQUESTED.value
SUPPLEMENT_RECEIVED: Final[str] = EventType.SUPPLEMENT_RECEIVED.value
PAUSED: Final[str] = EventType.PAUSED.value
RESUMED: Final[str] = EventType.RESUMED.value
RESOLVED: Final[str] = EventType.RESOLVED.value
RETURNED: Final[str] = EventType.RETURNED.value
WITHDRAWN: Final[str] = EventType.WITHDRAWN.value
PAYMENT: Final[str] = EventType.PAYMENT.value
RATING: Final[str] = EventType.RATING.value

EVENT_TYPES: Final[frozenset[str]] = frozenset(kind.value for kind in EventType)
HOLD_TYPES: Final[frozenset[str]] = frozenset({SUPPLEMENT_REQUESTED, PAUSED})
RELEASE_TYPES: Final[frozenset[str]] = frozenset({SUPPLEMENT_RECEIVED, RESUMED})
DUE_CARRYING_TYPES: Final[frozenset[str]] = frozenset({RECEIVED, SUPPLEMENT_RECEIVED, RESUMED})

CHANNELS: Final[frozenset[str]] = frozenset({"online", "direct", "postal"})
OUTCOMES: Final[frozenset[str]] = frozenset({"approved", "refused"})
PAYMENT_METHODS: Final[frozenset[str]] = frozenset({"online", "counter"})
RATING_LEVELS: Final[frozenset[str]] = frozenset({"very_satisfied", "satisfied", "dissatisfied"})
SATISFIED_LEVELS: Final[frozenset[str]] = frozenset({"very_satisfied", "satisfied"})


class FactRecord(NamedTuple):
    """The winning copy of one distinct event, reduced to what scoring reads.

    Fields that do not belong to the event's type are dropped (the contract rejects them anyway), so they can
    never influence a figure. A named tuple rather than a frozen dataclass: the service builds millions of
    these and a tuple is about five times cheaper to construct.
    """

    event_id: str
    type: str
    unit_id: str
    occurred_at: Instant
    ingested_at: Instant
    due_at: Instant | None = None
    procedure_id: str | None = None
    channel: str | None = None
    digitized: bool = False
    reused_data: bool = False
    outcome: str | None = None
    e_result: bool = False
    method: str | None = None
    amount: int | None = None
    level: str | None = None

    def order_key(self) -> tuple[Instant, str]:
        """SPEC §3: events are ordered by occurred_at, ties broken by event_id ascending."""
        return (self.occurred_at, self.event_id)

    def copy_key(self) -> tuple[Any, ...]:
        """Which copy of one event_id counts: the earliest ingested_at (SPEC §2).

        Copies ingested at the same instant are told apart by their content, compared field by field in
        declaration order with an absent value before any present one, so the choice never depends on
        arrival order.
        """
        return (self.ingested_at, *((False, 0) if value is None else (True, value) for value in self._content()))

    def _content(self) -> tuple[Any, ...]:
        """Every field except event_id (equal by construction) and ingested_at (compared first)."""
        return (self.type, self.unit_id, self.occurred_at, *self[5:])

    def to_row(self) -> list[Any]:
        """Compact JSON form: a positional list with trailing defaults trimmed."""
        row: list[Any] = list(self)
        while row[-1] is None or row[-1] is False:
            row.pop()
        return row

    @classmethod
    def from_row(cls, row: list[Any]) -> FactRecord:
        if not 5 <= len(row) <= _FIELDS:
            raise ValueError(f"bản ghi sự kiện hỏng / malformed stored event row: {row!r}")
        # tuple.__new__ with every field (the trimmed defaults put back): the named tuple's __new__ is a Python
        # function, and this runs for every stored event of every dossier a batch loads.
        return _new_tuple(cls, (*row, *_DEFAULTS[len(row) - 5 :]) if len(row) < _FIELDS else row)


_FIELDS: Final = len(FactRecord._fields)
_DEFAULTS: Final[tuple[Any, ...]] = tuple(FactRecord._field_defaults[name] for name in FactRecord._fields[5:])
_new_tuple: Final = tuple.__new__


def _require(condition: bool, event_id: str, kind: str, field: str) -> None:
    if not condition:
        raise ValueError(
            f"sự kiện {event_id} ({kind}) thiếu hoặc sai trường {field} / "
            f"event {event_id} ({kind}) has a missing or invalid {field}"
        )


def make_record(
    event_id: str,
    kind: str,
    unit_id: str,
    occurred: Instant,
    ingested: Instant,
    due: Instant | None,
    procedure_id: str | None,
    channel: str | None,
    digitized: bool | None,
    reused_data: bool | None,
    outcome: str | None,
    e_result: bool | None,
    method: str | None,
    amount: int | None,
    level: str | None,
) -> FactRecord:
    """Validate the type-specific fields scoring depends on; the fields that do not belong to the type are
    dropped."""
    _require(kind in EVENT_TYPES, event_id, kind, "type")
    if kind not in DUE_CARRYING_TYPES:
        due = None
    # Positional and spelled out per type: this runs once per consumed event (a shared head tuple costs ~6 %).
    if kind == RECEIVED:
        _require(due is not None, event_id, kind, "due_at")
        _require(channel in CHANNELS, event_id, kind, "channel")
        return FactRecord(event_id, kind, unit_id, occurred, ingested, due, procedure_id, channel, bool(digitized),
                          bool(reused_data))  # fmt: skip
    if kind == RESOLVED:
        _require(outcome in OUTCOMES, event_id, kind, "outcome")
        return FactRecord(event_id, kind, unit_id, occurred, ingested, procedure_id=procedure_id, outcome=outcome,
                          e_result=bool(e_result))  # fmt: skip
    if kind == PAYMENT:
        _require(method in PAYMENT_METHODS, event_id, kind, "method")
        _require(amount is None or amount >= 0, event_id, kind, "amount")
        return FactRecord(event_id, kind, unit_id, occurred, ingested, procedure_id=procedure_id, method=method,
                          amount=amount)  # fmt: skip
    if kind == RATING:
        _require(level in RATING_LEVELS, event_id, kind, "level")
        return FactRecord(event_id, kind, unit_id, occurred, ingested, procedure_id=procedure_id, level=level)
    return FactRecord(event_id, kind, unit_id, occurred, ingested, due, procedure_id)
