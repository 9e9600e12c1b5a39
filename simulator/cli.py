"""`python -m simulator`: generate Hanoi traffic to a file, the ingest API or Kafka (see docs/simulator.md)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import os
import sys
import time
from collections.abc import Iterator
from datetime import date
from itertools import islice

import orjson

from simulator.params import SimConfig, SimParams, scale_for_rate
from simulator.registry import DEFAULT_REGISTRY, DEFAULT_SPLITS, load_splits, load_units
from simulator.sinks.base import Sink, SinkError
from simulator.sinks.pacing import Pacer, run
from simulator.stream import Delivery, Simulator
from simulator.worktime import DAY, parse_cli_time

_FUTURE_SLACK = 300  # SPEC §2: occurred_at may be at most 5 minutes after the time it is accepted


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    ap.add_argument("--units", default=str(DEFAULT_REGISTRY), help="unit registry CSV (SPEC §1)")
    ap.add_argument(
        "--splits",
        default=str(DEFAULT_SPLITS),
        help="a reorganisation's old → new mapping (old_unit_id,new_unit_id,share,article) that hands retired units' "
        "volume to their successors; rows for units absent from the registry are ignored; '' = none",
    )
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--scale", type=float, default=None, help="share of Hanoi's volume (1 = ≈4 M dossiers/year); default 0.01"
    )
    when = ap.add_argument_group("time range (back-fill, as fast as possible) or real time")
    when.add_argument("--from", dest="start", help="start, ISO date/time (naive = Vietnam time)")
    when.add_argument("--to", dest="end", help="end (exclusive); default now")
    when.add_argument("--backfill-days", type=float, help="start this many days before now")
    when.add_argument("--rate", type=float, help="real time at this average rate (events/s); sets the scale")
    when.add_argument("--realtime", action="store_true", help="real time at --scale")
    when.add_argument("--duration", type=float, help="real time: stop after this many seconds")
    when.add_argument(
        "--warm-up-days",
        type=float,
        default=0.0,
        help="real time: simulate this many days before the start without sending them, so that the dossiers "
        "in progress send their later events at once (their earlier events are never sent)",
    )
    when.add_argument(
        "--send-open",
        action="store_true",
        help="with --warm-up-days: send first the warm-up events of the dossiers still in progress at the start "
        "(with their own times), so that no later event arrives without its receipt",
    )
    when.add_argument(
        "--allow-future",
        action="store_true",
        help="allow --to in the future (file sink only: such events would be rejected by ingest)",
    )
    model = ap.add_argument_group("traffic model")
    model.add_argument(
        "--profile",
        choices=("hanoi", "flat"),
        help="hanoi = office hours and weekdays (default); flat = round the clock (default with --rate)",
    )
    model.add_argument("--run-id", default="", help="dossier id prefix (default S<seed>; real time adds the start)")
    model.add_argument("--no-backlog", action="store_true", help="no stuck overdue backlog from before the start")
    model.add_argument("--invalid-share", type=float, default=0.0, help="share of extra, deliberately invalid events")
    model.add_argument("--late-share", type=float, help="share of events delivered 1–30 h late")
    model.add_argument("--very-late-share", type=float, help="share of events delivered 2–10 days late")
    model.add_argument("--duplicate-share", type=float, help="share of events sent twice")
    model.add_argument("--max-events", type=int, help="stop after this many events")
    model.add_argument(
        "--legacy-share", type=float, help="share of retired units whose systems keep sending the old id (0.1)"
    )
    model.add_argument(
        "--legacy-until", help="last day (YYYY-MM-DD) on which those legacy systems send the old id (2025-09-30)"
    )
    out = ap.add_argument_group("sink")
    out.add_argument("--sink", choices=("file", "http", "kafka"), default="file")
    out.add_argument("--out", default="-", help="file sink: path, '-' = stdout")
    out.add_argument("--stamp-ingested", action="store_true", help="file sink: add ingested_at (delivery time)")
    out.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('INGEST_PORT', '8001')}")
    out.add_argument("--api-key", default=os.environ.get("SIM_API_KEY", ""), help="ingest key (env SIM_API_KEY)")
    out.add_argument("--batch-size", type=int, default=5000)
    out.add_argument("--concurrency", type=int, default=4)
    out.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    out.add_argument("--topic", default="dossier-events")
    return ap


def first_sent(args: argparse.Namespace, config: SimConfig) -> int:
    """Deliveries before this moment are simulated but not sent (the warm-up)."""
    return config.start + int(args.warm_up_days * DAY)


def config_from_args(args: argparse.Namespace, now: float) -> tuple[SimConfig, bool]:
    """The run configuration and whether it is paced in real time; raises ValueError on inconsistent options."""
    realtime = args.rate is not None or args.realtime
    params = SimParams()
    overrides = {
        k: v
        for k, v in (
            ("late_delivery_share", args.late_share),
            ("very_late_delivery_share", args.very_late_share),
            ("duplicate_share", args.duplicate_share),
            ("legacy_share", args.legacy_share),
            ("legacy_until", args.legacy_until),
        )
        if v is not None
    }
    params = dataclasses.replace(params, **overrides)
    try:
        date.fromisoformat(params.legacy_until)
    except ValueError:
        raise ValueError(f"--legacy-until {params.legacy_until!r} is not a YYYY-MM-DD date") from None
    if not 0 <= params.legacy_share <= 1:
        raise ValueError("--legacy-share must be within [0, 1]")
    if args.warm_up_days < 0 or (args.warm_up_days and not realtime):
        raise ValueError("--warm-up-days is for real time (--rate/--realtime) and must be ≥ 0")
    if args.send_open and not args.warm_up_days:
        raise ValueError("--send-open sends part of a warm-up: give --warm-up-days too")
    if realtime:
        if args.start or args.end:
            raise ValueError("real time runs from now: use --backfill-days for history, not --from/--to")
        if args.rate is not None and args.scale is not None:
            raise ValueError("give --rate or --scale, not both")
        scale = scale_for_rate(args.rate, params) if args.rate is not None else args.scale or 0.01
        start = int(now - (args.backfill_days or 0) * DAY - args.warm_up_days * DAY)
        end = int(now + args.duration) if args.duration else None
        run_id = args.run_id or f"S{args.seed}R{start:x}"  # distinct per run: stamps differ from run to run
        profile = args.profile or ("flat" if args.rate is not None else "hanoi")
    else:
        if args.start:
            start = parse_cli_time(args.start)
        elif args.backfill_days:
            start = int(now - args.backfill_days * DAY)
        else:
            raise ValueError("give --from (or --backfill-days) for a back-fill, or --rate/--realtime for real time")
        end = parse_cli_time(args.end) if args.end else int(now)
        if start >= end:
            raise ValueError("the range is empty: --from must be before --to (default: now)")
        if end > now + _FUTURE_SLACK and not (args.allow_future and args.sink == "file"):
            raise ValueError("--to is in the future: ingest would reject those events (file sink: --allow-future)")
        scale, run_id, profile = args.scale or 0.01, args.run_id, args.profile or "hanoi"
    config = SimConfig(
        start=start,
        end=end,
        seed=args.seed,
        scale=scale,
        profile=profile,
        run_id=run_id,
        backlog=not args.no_backlog,
        invalid_share=args.invalid_share,
        params=params,
    )
    return config, realtime


async def open_sink(args: argparse.Namespace) -> Sink:
    if args.sink == "http":
        from simulator.sinks.http import HttpSink  # httpx only when needed

        if not args.api_key:
            raise ValueError("--api-key (or SIM_API_KEY) is required for the http sink")
        return HttpSink(args.url, args.api_key, concurrency=args.concurrency)
    if args.sink == "kafka":
        from simulator.sinks.kafka import KafkaSink  # aiokafka only when needed

        return await KafkaSink.connect(args.bootstrap, args.topic)
    return file_sink(args)


def file_sink(args: argparse.Namespace) -> Sink:
    from simulator.sinks.file import JsonlSink

    # Opening a local file does not block meaningfully; the OS closes it when the process ends.
    stream = sys.stdout.buffer if args.out == "-" else open(args.out, "wb")  # noqa: SIM115
    return JsonlSink(stream, stamp_ingested=args.stamp_ingested)


async def _amain(args: argparse.Namespace) -> int:
    now = time.time()
    config, realtime = config_from_args(args, now)
    if args.warm_up_days:
        config = dataclasses.replace(config, send_from=first_sent(args, config), send_open=args.send_open)
    simulator = Simulator(config, load_units(args.units), load_splits(args.splits) if args.splits else None)
    deliveries: Iterator[Delivery] = iter(simulator)
    if args.max_events:
        deliveries = islice(deliveries, args.max_events)
    print(
        f"simulator: seed {config.seed}, scale {config.scale:.4g}, profile {config.profile}, "
        f"{'real time' if realtime else 'as fast as possible'}, sink {args.sink}",
        file=sys.stderr,
    )
    sink = await open_sink(args)
    started = time.monotonic()
    try:
        result = await run(deliveries, sink, Pacer(realtime), min(args.batch_size, 5000))
    except (KeyboardInterrupt, asyncio.CancelledError):
        result = sink.result
    elapsed = time.monotonic() - started
    summary = {
        **result.as_dict(),
        **dataclasses.asdict(simulator.stats),
        "seconds": round(elapsed, 3),
        "events_per_second": round(result.sent / elapsed) if elapsed > 0 else None,
    }
    print(orjson.dumps(summary).decode(), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Hundreds of thousands of in-flight event dicts make the cyclic GC rescan them over and over (≈ 30 % of the
    # time at full scale); they form no cycles, so collect far less often.
    gc.set_threshold(100_000, 50, 1000)
    try:
        return asyncio.run(_amain(args))
    except ValueError as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2
    except SinkError as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
