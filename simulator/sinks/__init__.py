"""Where simulated events go: a JSONL file (or stdout), the ingest HTTP API, or Kafka directly.

Every sink has `async send(batch)`, `async close()` and a `result` with counts; `run()` feeds one from a stream.
"""

from simulator.sinks.base import Sink, SinkError, SinkResult
from simulator.sinks.pacing import Pacer, paced_batches, run

__all__ = ["Pacer", "Sink", "SinkError", "SinkResult", "paced_batches", "run"]
