"""The sink interface and its result counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from simulator.stream import Delivery


class SinkError(RuntimeError):
    """The destination refused the run for good (bad key, bad request); retrying would not help."""


@dataclass(slots=True)
class SinkResult:
    sent: int = 0  # events handed to the destination
    accepted: int = 0  # events the destination confirmed (HTTP "accepted", Kafka acks=all)
    rejected: int = 0
    rejected_by_error: Counter[str] = field(default_factory=Counter)
    retries: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "sent": self.sent,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rejected_by_error": dict(self.rejected_by_error),
            "retries": self.retries,
        }


class Sink(Protocol):
    result: SinkResult

    async def send(self, batch: list[Delivery]) -> None: ...

    async def close(self) -> None: ...
