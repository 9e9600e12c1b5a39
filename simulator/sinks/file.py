"""JSON Lines to a file or stdout: one SPEC §2 event per line, in delivery order."""

from __future__ import annotations

from typing import BinaryIO

import orjson

from simulator.sinks.base import SinkResult
from simulator.stream import Delivery
from simulator.worktime import Rfc3339


class JsonlSink:
    """Writes events as JSON lines. With `stamp_ingested`, adds `ingested_at` = the simulated delivery time (UTC),
    as a trusted replay producer would (SPEC §2); without it, the lines are what a client would POST."""

    def __init__(self, out: BinaryIO, stamp_ingested: bool = False) -> None:
        self.result = SinkResult()
        self._out = out
        self._stamp = stamp_ingested
        self._fmt = Rfc3339()

    async def send(self, batch: list[Delivery]) -> None:
        if self._stamp:
            lines = [orjson.dumps({**d.event, "ingested_at": self._fmt.utc(d.deliver_at)}) for d in batch]
        else:
            lines = [orjson.dumps(d.event) for d in batch]
        self._out.write(b"\n".join(lines) + b"\n")
        self._out.flush()
        self.result.sent += len(batch)
        self.result.accepted += len(batch)

    async def close(self) -> None:
        self._out.flush()
