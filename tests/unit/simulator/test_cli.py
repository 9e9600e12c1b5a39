from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest

from simulator.cli import build_parser, config_from_args, first_sent, main
from simulator.worktime import parse_cli_time

NOW = parse_cli_time("2026-11-20T10:00:00+07:00")


def config(*argv: str):
    return config_from_args(build_parser().parse_args(list(argv)), NOW)


def test_backfill_range_runs_as_fast_as_possible() -> None:
    cfg, realtime = config("--from", "2026-08-01", "--to", "2026-11-01", "--scale", "0.05", "--seed", "9")
    assert not realtime
    assert (cfg.start, cfg.end) == (parse_cli_time("2026-08-01"), parse_cli_time("2026-11-01"))
    assert (cfg.scale, cfg.seed, cfg.profile, cfg.dossier_prefix) == (0.05, 9, "hanoi", "S9")


def test_backfill_days_end_now() -> None:
    cfg, realtime = config("--backfill-days", "90")
    assert not realtime and cfg.end == NOW and cfg.start == NOW - 90 * 86_400 and cfg.scale == 0.01


def test_rate_means_real_time_from_now() -> None:
    cfg, realtime = config("--rate", "49", "--backfill-days", "2", "--duration", "60")
    assert realtime and cfg.profile == "flat"
    assert cfg.scale == pytest.approx(100, rel=0.05)
    assert (cfg.start, cfg.end) == (NOW - 2 * 86_400, NOW + 60)
    assert cfg.dossier_prefix.startswith("S42R")  # distinct per run
    cfg, _ = config("--realtime", "--scale", "1")
    assert cfg.end is None and cfg.profile == "hanoi" and cfg.scale == 1


def test_warm_up_is_simulated_before_what_is_sent() -> None:
    args = build_parser().parse_args(["--rate", "3", "--warm-up-days", "5", "--backfill-days", "1"])
    cfg, realtime = config_from_args(args, NOW)
    assert realtime and cfg.start == NOW - 6 * 86_400
    assert first_sent(args, cfg) == NOW - 86_400  # the warm-up's deliveries are not sent


def test_legacy_options() -> None:
    cfg, _ = config("--backfill-days", "9", "--legacy-share", "0.25", "--legacy-until", "2025-08-31")
    assert (cfg.params.legacy_share, cfg.params.legacy_until) == (0.25, "2025-08-31")


@pytest.mark.parametrize(
    "argv",
    [
        [],  # no range, no rate
        ["--from", "2026-12-01"],  # empty range: the start is after now
        ["--from", "2026-11-01", "--to", "2026-12-31"],  # future events would be rejected
        ["--rate", "5", "--from", "2026-11-01"],
        ["--rate", "5", "--scale", "0.1"],
        ["--backfill-days", "9", "--warm-up-days", "2"],  # a warm-up is for real time
        ["--rate", "3", "--warm-up-days", "-1"],
        ["--rate", "3", "--send-open"],  # sends part of a warm-up: needs one
        ["--backfill-days", "9", "--legacy-until", "30/9/2025"],
        ["--backfill-days", "9", "--legacy-share", "1.5"],
    ],
)
def test_inconsistent_options_are_refused(argv: list[str]) -> None:
    with pytest.raises(ValueError):
        config(*argv)


def test_future_range_allowed_for_files_on_request() -> None:
    cfg, _ = config("--from", "2026-11-01", "--to", "2026-12-31", "--allow-future")
    assert cfg.end == parse_cli_time("2026-12-31")


def test_command_line_writes_identical_files_for_a_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    digests = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.jsonl"
        argv = [
            "--from",
            "2026-08-03",
            "--to",
            "2026-08-05",
            "--scale",
            "0.01",
            "--max-events",
            "800",
            "--invalid-share",
            "0.01",
            "--out",
            str(out),
        ]
        assert main(argv) == 0
        lines = out.read_bytes().splitlines()
        assert len(lines) == 800 and all(orjson.loads(line)["event_id"] for line in lines)
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    summary = orjson.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert summary["sent"] == 800


def test_command_line_reports_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sink", "http", "--from", "2026-08-01", "--to", "2026-08-02"]) == 2  # no API key
    assert "api-key" in capsys.readouterr().err
