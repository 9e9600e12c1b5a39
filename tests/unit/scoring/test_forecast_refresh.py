"""A level's forecast patched from the previous one (service/forecast_refresh.py) equals forecast_level from
scratch, and keeps the objects of the units nothing changed."""

from __future__ import annotations

import random

import pytest

from services.scoring.domain.forecast import ForecastInput, forecast_level
from services.scoring.service.forecast_refresh import refresh_forecast
from tests.unit.scoring.read_fakes import profile

pytestmark = pytest.mark.unit


def figures(rng: random.Random) -> dict[str, int]:
    received = rng.randint(0, 60)
    resolved = rng.randint(0, received)
    on_time = rng.randint(0, resolved)
    total = rng.randint(0, received)
    return {"received": received, "received_online": rng.randint(0, received), "resolved": resolved,
            "resolved_with_due": resolved, "resolved_on_time": on_time, "resolved_e_result": rng.randint(0, resolved),
            "progress_total": total, "progress_on_time": rng.randint(0, total), "events": resolved,
            "events_timely": rng.randint(0, resolved)}  # fmt: skip


def level(rng: random.Random, units: int = 60) -> dict[str, ForecastInput]:
    return {f"U{i:03d}": ForecastInput(figures(rng), rng.randint(0, 5)) for i in range(units)}


@pytest.mark.parametrize("seed", range(6))
def test_a_patched_forecast_equals_one_from_scratch(seed: int) -> None:
    rng = random.Random(seed)
    scores = profile()
    inputs = level(rng)
    existing = [uid for uid in inputs if rng.random() < 0.9]
    basis = refresh_forecast(inputs, existing, scores, None)
    assert basis.computed == forecast_level(inputs, existing, scores)
    for _ in range(8):  # batches of the live feed: a few units change each time
        inputs = dict(inputs)
        touched = rng.sample(sorted(inputs), rng.randint(0, 6))
        for uid in touched:
            inputs[uid] = ForecastInput(figures(rng), rng.randint(0, 5))
        previous = basis
        basis = refresh_forecast(inputs, existing, scores, previous)
        assert basis.computed == forecast_level(inputs, existing, scores)
        for uid, forecast in basis.computed.items():  # untouched and not moved in any ranking: the same object
            before = previous.computed[uid]
            if uid not in touched and forecast == before:
                assert forecast is before


def test_a_new_unit_or_another_profile_is_computed_in_full() -> None:
    rng = random.Random(7)
    scores = profile()
    inputs = level(rng, 20)
    basis = refresh_forecast(inputs, list(inputs), scores, None)
    grown = {**inputs, "U999": ForecastInput(figures(rng), 1)}
    assert refresh_forecast(grown, list(grown), scores, basis).computed == forecast_level(grown, list(grown), scores)
    other = profile()
    patched = refresh_forecast(inputs, list(inputs), other, basis)
    assert patched.computed == forecast_level(inputs, list(inputs), other) and patched.profile is other
