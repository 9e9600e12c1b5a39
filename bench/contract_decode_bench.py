"""Micro-benchmark of the event contract's decoders on real records: CPU µs per event, candidates side by side.

    .venv/bin/python bench/contract_decode_bench.py [--events 50000] [--repeat 7]

Records: simulated Hanoi Kafka records (`bench/scoring_hotpath.simulated_records`, as a trusted producer writes
them, `ingested_at` set) and the ingest benchmark's HTTP events (`bench/ingest_load.generate_events`). Each
candidate runs over all of them `--repeat` times in one process, interleaved; the minimum of the CPU time
(`time.process_time`) per event is printed (the machine is shared: the minimum is the least disturbed pass).

Scoring (record bytes → FactRecord, all rules, context included):
- `checker (main)`: orjson.loads + the hand-ordered checker (`contract.decode_record_fields`) + `make_record` —
  what main's consumer runs;
- `msgspec (new)`: `services.scoring.adapters.wire.decode_batch` on the shared compiled decoder.
Ingest (an item of a parsed body → Kafka record bytes, all rules, context included):
- `pydantic model (main)`: `contract.validate_event` (checker + `model_construct`) + `contract.encode_event`;
- `msgspec (new)`: `contract_codec.validate_item` + `encode_checked`.
The compiled layer alone (types, patterns, lengths and vocabularies only, no Python rules), for the choice:
- `msgspec.json.decode` of the bytes into the schema `Struct`; `msgspec.convert` of the parsed dict;
- pydantic-core's `SchemaValidator` (strict typed-dict schema of the same constraints): `validate_json` and
  `validate_python`;
- `orjson.loads` alone (the floor of any orjson + hand-checks design).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import msgspec  # noqa: E402
import orjson  # noqa: E402
from pydantic_core import SchemaValidator, core_schema  # noqa: E402

from bench.ingest_load import generate_events  # noqa: E402
from bench.scoring_hotpath import simulated_records  # noqa: E402
from bench.scoring_setup import HANOI_REGISTRY  # noqa: E402
from services.scoring.adapters.wire import decode_batch  # noqa: E402
from services.scoring.domain.facts import make_record  # noqa: E402
from services.scoring.domain.timebase import to_instant  # noqa: E402
from shared import contract_codec  # noqa: E402
from shared.contract import VOCABULARIES, EventRejection, decode_record_fields, encode_event, validate_event  # noqa: E402
from shared.contract_rules import Channel, EventType, Outcome, PaymentMethod, RatingLevel  # noqa: E402
from simulator.registry import load_units  # noqa: E402

_PLAIN = {member: member.value for enum in VOCABULARIES for member in enum}


def main_scoring_decode(records: list[Any], unit_exists: Callable[[str], bool]) -> int:
    """main's consumer decode (services/scoring/adapters/wire.py before issue 14), kept here for the comparison."""
    count, plain = 0, _PLAIN
    for record in records:
        fields = decode_record_fields(record.value, record.timestamp, unit_exists=unit_exists)
        if isinstance(fields, EventRejection):
            continue
        get = fields.get
        due = get("due_at")
        channel, outcome, method, level = get("channel"), get("outcome"), get("method"), get("level")
        make_record(get("event_id"), plain[get("type")], get("unit_id"), to_instant(get("occurred_at")),
                    to_instant(get("ingested_at")), to_instant(due) if due is not None else None,
                    get("procedure_id"), plain[channel] if channel is not None else None, get("digitized"),
                    get("reused_data"), plain[outcome] if outcome is not None else None, get("e_result"),
                    plain[method] if method is not None else None, get("amount"),
                    plain[level] if level is not None else None)  # fmt: skip
        count += 1
    return count


def pydantic_core_validator() -> SchemaValidator:
    """The compiled constraints of `contract_codec._Fields` as a strict pydantic-core typed-dict schema."""

    def text(**kw: Any) -> core_schema.CoreSchema:
        return core_schema.str_schema(strict=True, **kw)

    def optional(schema: core_schema.CoreSchema) -> core_schema.TypedDictField:
        return core_schema.typed_dict_field(core_schema.nullable_schema(schema), required=False)

    def vocabulary(enum: Any) -> core_schema.CoreSchema:
        return core_schema.literal_schema([member.value for member in enum])

    # The schema's RFC 3339 pattern; Rust's regex (pydantic-core) spells end-of-text `\z`.
    time = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})\z"
    fields = {
        "event_id": core_schema.typed_dict_field(text(pattern=r"^[A-Za-z0-9._:-]{1,128}\z")),
        "dossier_id": core_schema.typed_dict_field(text(min_length=1, max_length=64)),
        "unit_id": core_schema.typed_dict_field(text(pattern=r"^[A-Za-z0-9._-]{1,64}\z")),
        "type": core_schema.typed_dict_field(vocabulary(EventType)),
        "occurred_at": core_schema.typed_dict_field(text(pattern=time)),
        "procedure_id": optional(text(min_length=1, max_length=32)),
        "channel": optional(vocabulary(Channel)),
        "due_at": optional(text(pattern=time)),
        "digitized": optional(core_schema.bool_schema(strict=True)),
        "reused_data": optional(core_schema.bool_schema(strict=True)),
        "outcome": optional(vocabulary(Outcome)),
        "e_result": optional(core_schema.bool_schema(strict=True)),
        "method": optional(vocabulary(PaymentMethod)),
        "amount": optional(core_schema.int_schema(strict=True, ge=0)),
        "level": optional(vocabulary(RatingLevel)),
        "ingested_at": optional(text(pattern=time)),
    }
    return SchemaValidator(core_schema.typed_dict_schema(fields, extra_behavior="ignore"))


def timed(runs: dict[str, Callable[[], object]], repeat: int, per: int) -> dict[str, float]:
    """Minimum process-CPU µs per event of each candidate, the candidates interleaved `repeat` times."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            started = time.process_time()
            run()
            best[name] = min(best[name], (time.process_time() - started) / per * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    known = {unit.unit_id for unit in load_units(HANOI_REGISTRY)}
    exists = known.__contains__
    records = simulated_records(args.events, 42, 0.0)
    values = [record.value for record in records]
    assert main_scoring_decode(records, exists) == len(decode_batch(records, exists)[0])
    validator = pydantic_core_validator()
    record_decoder = msgspec.json.Decoder(contract_codec._Record)
    scoring = timed(
        {
            "checker (main)": lambda: main_scoring_decode(records, exists),
            "msgspec (new)": lambda: decode_batch(records, exists),
            "layer: msgspec.json.decode": lambda: [record_decoder.decode(v) for v in values],
            "layer: pydantic-core validate_json": lambda: [validator.validate_json(v) for v in values],
            "layer: orjson.loads": lambda: [orjson.loads(v) for v in values],
        },
        args.repeat,
        len(records),
    )
    http_known = sorted(unit for unit in known if unit.startswith("H26"))[:200] or sorted(known)
    items = orjson.loads(orjson.dumps(generate_events(args.events, http_known)))
    now = datetime.now(UTC)
    stamp = contract_codec.stamp_text(now)

    def ingest_main() -> None:
        for item in items:
            event = validate_event(item, now=now, unit_exists=exists)
            assert not isinstance(event, EventRejection)
            encode_event(event, now)

    def ingest_new() -> None:
        for item in items:
            event = contract_codec.validate_item(item, now=now, unit_exists=exists)
            assert not isinstance(event, EventRejection)
            contract_codec.encode_checked(event, stamp)

    ingest = timed(
        {
            "pydantic model (main)": ingest_main,
            "msgspec (new)": ingest_new,
            "layer: msgspec.convert": lambda: [msgspec.convert(i, contract_codec._Fields) for i in items],
            "layer: pydantic-core validate_python": lambda: [validator.validate_python(i) for i in items],
        },
        args.repeat,
        len(items),
    )
    print(f"{len(records):,} simulated Kafka records ({sum(map(len, values)) / len(values):.0f} bytes avg), "
          f"{len(items):,} ingest events; min of {args.repeat} passes, CPU µs/event")  # fmt: skip
    for title, table in (("scoring: bytes → FactRecord", scoring), ("ingest: item → record bytes", ingest)):
        print(title)
        for name, micros in table.items():
            print(f"  {name:<38} {micros:6.2f}")


if __name__ == "__main__":
    main()
