"""The figures the consumer's pure path computes from Kafka records, as one digest — run in a child process by
test_compiled.py, once with the compiled modules and once with their sources (SCORING_INTERPRETED=1).

    python -m tests.unit.scoring.compiled_figures RECORDS.pickle NOW_US   # prints {"form": ..., "digest": ...}

Simulated Hanoi records (valid and invalid) go through what the consumer runs per batch: decode, load the stored
dossiers from their JSON text, merge and count, write the documents; the digest covers every dossier's stored text
and month, the counter table, and every rejection's code and detail.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
from pathlib import Path

import orjson

from services.scoring.adapters import documents as store
from services.scoring.adapters.wire import decode_batch
from services.scoring.compiled import select_form
from services.scoring.domain.apply import apply_records
from services.scoring.domain.counters import add_into
from services.scoring.service.apply_batch import OWN_UNIT_ONLY
from services.scoring.service.ports import KafkaRecord
from simulator.registry import load_units

HANOI_REGISTRY = Path(__file__).resolve().parents[3] / "data" / "hanoi_registry.csv"
BATCH = 500


def figures_digest(records: list[KafkaRecord], now: int) -> str:
    known = {unit.unit_id for unit in load_units(HANOI_REGISTRY)}
    database: dict[str, tuple[str, str]] = {}
    counters: dict[tuple[str, str, str], int] = {}
    rejections: list[tuple[int, str, str]] = []
    for start in range(0, len(records), BATCH):
        facts, rejected = decode_batch(records[start : start + BATCH], known.__contains__)
        rejections += [(record.offset, str(why.error), why.detail) for record, why in rejected]
        ids = sorted({dossier_id for dossier_id, _ in facts})
        stored = store.stored_from_rows([(i, *row) for i in ids if (row := database.get(i)) is not None])
        outcome = apply_records(facts, stored, now=now, ancestors=OWN_UNIT_ONLY)
        store.change_documents(outcome.changes)  # built as the consumer builds them (their content is the rows)
        for change in outcome.changes:
            database[change.state.dossier_id] = (orjson.dumps(store.state_document(change)).decode(),
                                                 change.evaluated_month)  # fmt: skip
        add_into(counters, outcome.counter_delta)
    everything = [sorted(database.items()), sorted(counters.items()), rejections]
    return hashlib.sha256(orjson.dumps(everything)).hexdigest()


def main(argv: list[str]) -> int:
    records = pickle.loads(Path(argv[0]).read_bytes())
    print(json.dumps({"form": select_form(), "digest": figures_digest(records, int(argv[1])), "records": len(records)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
