"""The per-unit gauges of `/metrics` are replaced as a whole: a unit missing from a refresh loses its series."""

from __future__ import annotations

import gc

import pytest

from services.scoring.adapters.metrics import ScoringMetrics
from services.scoring.service.read_ports import UnitGaugeRow

pytestmark = pytest.mark.unit


def row(unit_id: str, score: float | None, overdue: int) -> UnitGaugeRow:
    return UnitGaugeRow(
        unit_id, "district", score, {"progress_rate": 0.5, "on_time_rate": None}, (("overdue_open", overdue),)
    )


def test_replacing_exports_exactly_the_given_units() -> None:
    metrics = ScoringMetrics()
    metrics.replace_units([row("A", 80.0, 2), row("B", None, 0)])
    text = metrics.render().decode()
    assert 'tthc_unit_score{level="district",unit_id="A"} 80.0' in text
    assert 'tthc_unit_score{level="district",unit_id="B"}' not in text  # no rate: no score series
    assert 'tthc_unit_rate{level="district",rate="progress_rate",unit_id="B"} 0.5' in text
    assert 'rate="on_time_rate"' not in text  # a null rate has no series
    assert 'tthc_unit_live{counter="overdue_open",level="district",unit_id="A"} 2.0' in text

    metrics.replace_units([row("B", 70.0, 1)])
    text = metrics.render().decode()
    assert 'unit_id="A"' not in text  # retired, or no figures this month: gone, not frozen at its last value
    assert 'tthc_unit_score{level="district",unit_id="B"} 70.0' in text


def test_each_garbage_collection_is_timed_by_generation_while_installed() -> None:
    metrics = ScoringMetrics()

    def full_collections() -> float:
        return metrics.registry.get_sample_value("tthc_scoring_gc_pause_seconds_count", {"generation": "2"}) or 0.0

    metrics.gc_pauses.install()
    try:
        gc.collect()
        gc.collect()
        assert full_collections() == 2
    finally:
        metrics.gc_pauses.uninstall()
    gc.collect()
    assert full_collections() == 2  # uninstalled: no longer observed
