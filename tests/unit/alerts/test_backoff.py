from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.alerts.domain.backoff import RetryPolicy, backoff_delay, classify_http_status, next_retry
from tests.unit.alerts.factories import T0


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=500),
    st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    st.floats(min_value=0.1, max_value=10.0),
    st.floats(min_value=1.0, max_value=3600.0),
)
def test_full_jitter_stays_within_zero_and_the_capped_exponential(
    attempt: int, draw: float, base: float, cap: float
) -> None:
    delay = backoff_delay(attempt, base, cap, lambda: draw)
    ceiling = min(cap, base * 2 ** (attempt - 1))
    assert 0.0 <= delay <= ceiling <= cap


def test_delay_grows_exponentially_until_the_cap() -> None:
    almost_one = 0.999999
    delays = [backoff_delay(n, 2.0, 60.0, lambda: almost_one) for n in range(1, 9)]
    assert delays[:5] == pytest.approx([2, 4, 8, 16, 32], rel=1e-5)
    assert delays[5:] == pytest.approx([60, 60, 60], rel=1e-5)
    assert backoff_delay(3, 2.0, 60.0, lambda: 0.0) == 0.0


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        backoff_delay(0, 1, 10)
    with pytest.raises(ValueError):
        backoff_delay(1, 1, 10, lambda: 1.0)


def test_next_retry_gives_up_after_attempts_or_age_and_honours_retry_after() -> None:
    policy = RetryPolicy(base="2s", cap="10m", max_attempts=5, max_age="1h")
    decision = next_retry(policy, 1, T0, T0, lambda: 0.5)
    assert not decision.give_up and decision.retry_at == T0 + timedelta(seconds=1)
    assert next_retry(policy, 5, T0, T0, lambda: 0.5).give_up
    assert next_retry(policy, 2, T0, T0 + timedelta(hours=1), lambda: 0.5).give_up
    honoured = next_retry(policy, 1, T0, T0, lambda: 0.1, retry_after_seconds=120)
    assert honoured.retry_at == T0 + timedelta(seconds=120)
    capped = next_retry(policy, 1, T0, T0, lambda: 0.1, retry_after_seconds=86400)
    assert capped.retry_at == T0 + timedelta(minutes=10)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (None, "retry"),
        (500, "retry"),
        (503, "retry"),
        (429, "retry"),
        (408, "retry"),
        (400, "reject"),
        (401, "reject"),
        (404, "reject"),
        (301, "reject"),
    ],
)
def test_http_status_classification(status: int | None, outcome: str) -> None:
    assert classify_http_status(status) == outcome
