"""The scoring consumer's Python hot path alone, without broker or database: where its CPU goes, per event.

    .venv/bin/python bench/scoring_hotpath.py [--events 300000] [--batch 5000] [--profile]
    .venv/bin/python bench/scoring_hotpath.py --compare 3 [--events 200000] [--batch 20000]

Simulated Hanoi records (as the Kafka benchmark preloads them) go through exactly the code the consumer runs for a
batch — decode, load the stored dossiers from their JSON columns, merge and count, build the write parameters —
with the database replaced by a dict of the JSON texts PostgreSQL would hold. Prints µs per event for each stage
and checks the fast decode path against the pydantic one on every record (valid and invalid alike).

`--compare N`: N rounds of two child processes on the same cached records, one importing the sources of the hot
modules (SCORING_INTERPRETED=1) and one their mypyc extensions (services/scoring/compiled.py; `make compile` builds
them), the order alternating per round; prints each stage's µs/event per form and compiled / interpreted.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pickle
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import orjson  # noqa: E402

from bench.scoring_setup import HANOI_REGISTRY, simulation_for  # noqa: E402
from services.scoring.adapters import documents as store  # noqa: E402
from services.scoring.adapters.gc import cyclic_gc_paused  # noqa: E402
from services.scoring.adapters.wire import decode_batch, record_of_event  # noqa: E402
from services.scoring.compiled import INTERPRETED_ENV, extension_paths, status  # noqa: E402
from services.scoring.domain.apply import AncestorLookup, apply_records  # noqa: E402
from services.scoring.service.apply_batch import OWN_UNIT_ONLY  # noqa: E402
from services.scoring.service.ports import KafkaRecord  # noqa: E402
from shared.contract import DossierEvent, EventRejection, decode_record  # noqa: E402
from simulator.registry import load_splits, load_units  # noqa: E402
from simulator.stream import Simulator  # noqa: E402
from simulator.worktime import Rfc3339  # noqa: E402


def simulated_records(count: int, seed: int, invalid_share: float) -> list[KafkaRecord]:
    """The simulator is slow (minutes for 300,000 events): the records are kept in var/ for the next run."""
    cache = REPO_ROOT / "var" / f"hotpath-records-{count}-{seed}-{invalid_share}.pickle"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    records = simulate(count, seed, invalid_share)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL))
    return records


def simulate(count: int, seed: int, invalid_share: float) -> list[KafkaRecord]:
    """`count` simulated deliveries of Hanoi (a share of them invalid) as Kafka records, as the bench preloads."""
    config = simulation_for(count, 1.0, seed)
    if invalid_share:
        from dataclasses import replace

        config = replace(config, invalid_share=invalid_share)
    fmt = Rfc3339()
    records = []
    stamp = int(time.time() * 1000)
    for offset, delivery in enumerate(Simulator(config, load_units(HANOI_REGISTRY), load_splits())):
        value = orjson.dumps({**delivery.event, "ingested_at": fmt.utc(delivery.deliver_at)})
        records.append(KafkaRecord("t", 0, offset, stamp, delivery.event["dossier_id"].encode(), value))
        if len(records) >= count:
            break
    return records


def check_fast_decode(records: list[KafkaRecord], unit_exists) -> int:
    """The consumer's decode must answer exactly what decode_record + record_of_event answer, rejections included
    (tests/unit/scoring/test_decoder_equivalence.py checks the same on generated records)."""
    facts, rejected = decode_batch(records, unit_exists)
    expected_facts, expected_rejected = [], []
    for record in records:
        outcome = decode_record(record.value or b"", record.timestamp, unit_exists=unit_exists)
        if isinstance(outcome, EventRejection):
            expected_rejected.append((record, outcome))
        else:
            assert isinstance(outcome, DossierEvent)
            expected_facts.append(record_of_event(outcome))
    assert expected_facts == facts, "fast decode differs"
    assert expected_rejected == rejected, "fast decode rejects differently"
    return len(rejected)


def run(
    records: list[KafkaRecord], batch: int, ancestors: AncestorLookup, unit_exists, gc_paused: bool = True
) -> dict[str, float]:
    database: dict[str, tuple[str, str]] = {}  # dossier_id → (state, evaluated_month) as the SELECT returns them
    spent: dict[str, float] = defaultdict(float)
    now = datetime.now(UTC)
    for start in range(0, len(records), batch):
        with cyclic_gc_paused() if gc_paused else contextlib.nullcontext():
            one_batch(records[start : start + batch], database, spent, now, ancestors, unit_exists)
    return spent


def one_batch(chunk, database, spent, now, ancestors, unit_exists) -> None:
    clock = time.process_time  # CPU of this process: the machine is shared, wall time is not ours
    t0 = clock()
    facts, _ = decode_batch(chunk, unit_exists)
    t1 = clock()
    ids = sorted({dossier_id for dossier_id, _ in facts})
    rows = [(i, *row) for i in ids if (row := database.get(i)) is not None]
    t2 = clock()
    stored = store.stored_from_rows(rows)
    t3 = clock()
    outcome = apply_records(facts, stored, now=now, ancestors=ancestors)
    t4 = clock()
    store.change_documents(outcome.changes)
    store.counter_columns(outcome.counter_delta)
    t5 = clock()
    for change in outcome.changes:
        text = orjson.dumps(store.state_document(change)).decode()
        database[change.state.dossier_id] = (text, change.evaluated_month)
    t6 = clock()
    stages = {"decode": t1 - t0, "(fake select)": t2 - t1, "load states": t3 - t2, "apply (merge+count)": t4 - t3}
    stages.update({"write params": t5 - t4, "(fake db)": t6 - t5})
    for name, seconds in stages.items():
        spent[name] += seconds
    spent["counter rows"] += len(outcome.counter_delta)
    spent["changed dossiers"] += len(outcome.changes)


STAGES = ("decode", "load states", "apply (merge+count)", "write params")


def compare(args: argparse.Namespace) -> int:
    """Interpreted and compiled children back to back on the same records: per stage, the median of the rounds."""
    if not extension_paths():
        raise SystemExit("no compiled modules in this checkout: run `make compile` first")
    simulated_records(args.events, args.seed, 0.0)  # simulate once, before the timed children
    figures: dict[str, list[dict[str, float]]] = {"interpreted": [], "compiled": []}
    for round_ in range(args.compare):
        forms = ["interpreted", "compiled"] if round_ % 2 == 0 else ["compiled", "interpreted"]
        for form in forms:
            env = {key: value for key, value in os.environ.items() if key != INTERPRETED_ENV}
            if form == "interpreted":
                env[INTERPRETED_ENV] = "1"
            with tempfile.NamedTemporaryFile(suffix=".json") as out:
                command = [sys.executable, __file__, "--events", str(args.events), "--batch", str(args.batch),
                           "--seed", str(args.seed), "--json", out.name]  # fmt: skip
                subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
                child = json.loads(Path(out.name).read_text())
            expected = form == "compiled"
            if set(child["compiled"].values()) != {expected}:
                raise SystemExit(f"the {form} child imported: {child['compiled']}")
            figures[form].append(child["us_per_event"])
            print(f"round {round_ + 1} {form:>11}: {child['us_per_event']['total CPU']:.1f} µs/event", flush=True)
    print(f"\n{'stage, µs/event (median)':>26} {'interpreted':>12} {'compiled':>9} {'ratio':>6}")
    for stage in (*STAGES, "sum of the four", "total CPU"):
        before = statistics.median(run[stage] for run in figures["interpreted"])
        after = statistics.median(run[stage] for run in figures["compiled"])
        print(f"{stage:>26} {before:12.1f} {after:9.1f} {after / before:6.2f}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--profile", action="store_true", help="cProfile the run and print the top functions")
    parser.add_argument("--gc-on", action="store_true", help="leave the cyclic GC running (as before the fix)")
    parser.add_argument("--compare", type=int, default=0, metavar="ROUNDS", help="interpreted vs compiled children")
    parser.add_argument("--json", type=Path, default=None, help="also write µs/event per stage to this file")
    args = parser.parse_args()
    if args.compare:
        return compare(args)
    units = load_units(HANOI_REGISTRY)
    known = {u.unit_id for u in units}
    ancestors = OWN_UNIT_ONLY  # as the consumer counts: own counters only (migration 0007)
    records = simulated_records(args.events, args.seed, 0.0)
    invalid = check_fast_decode(simulated_records(20_000, args.seed + 1, 0.05), known.__contains__)
    print(f"fast decode == pydantic decode on 20,000 records ({invalid} invalid)")
    profiler = cProfile.Profile() if args.profile else None
    started = time.process_time()
    if profiler:
        profiler.enable()
    spent = run(records, args.batch, ancestors, known.__contains__, gc_paused=not args.gc_on)
    if profiler:
        profiler.disable()
    total = time.process_time() - started
    n = len(records)
    for name, seconds in spent.items():
        if name in ("counter rows", "changed dossiers"):
            print(f"{name:>22}: {seconds / (n / args.batch):,.0f} per batch")
        else:
            print(f"{name:>22}: {seconds / n * 1e6:6.1f} µs/event")
    print(f"{'total CPU':>22}: {total / n * 1e6:6.1f} µs/event  ({n / total:,.0f} events/s on one core)")
    if args.json:
        per_event = {name: seconds / n * 1e6 for name, seconds in spent.items() if name in STAGES}
        per_event["sum of the four"] = sum(per_event.values())
        per_event["total CPU"] = total / n * 1e6
        args.json.write_text(json.dumps({"us_per_event": per_event, "compiled": status()}))
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
