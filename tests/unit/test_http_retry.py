"""shared.http_retry: which answers are retried, how long each wait is — with a fake sleep, so nothing really waits."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from shared.http_retry import RetryPolicy, parse_retry_after, send_with_retry

pytestmark = pytest.mark.unit

NOW = 1_800_000_000.0  # the fake wall clock (an HTTP-date Retry-After is relative to it)


class FakeSleep:
    """Records every wait instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Script:
    """Plays the server: each call answers the next scripted status (with headers) or raises a network error."""

    def __init__(self, *steps: int | tuple[int, dict[str, str]] | Exception) -> None:
        self._steps: Iterator[int | tuple[int, dict[str, str]] | Exception] = iter(steps)
        self.calls = 0

    async def __call__(self) -> httpx.Response:
        self.calls += 1
        step = next(self._steps)
        if isinstance(step, Exception):
            raise step
        status, headers = step if isinstance(step, tuple) else (step, {})
        return httpx.Response(status, headers=headers)


def network_down() -> httpx.ConnectError:
    return httpx.ConnectError("connection refused")


async def send(script: Script, policy: RetryPolicy, sleep: FakeSleep, retries: list[int] | None = None) -> int:
    counted = (lambda: retries.append(1)) if retries is not None else None
    response = await send_with_retry(script, policy, sleep=sleep, now=lambda: NOW, on_retry=counted)
    return response.status_code


async def test_a_retry_after_in_seconds_is_waited_then_the_request_is_sent_again() -> None:
    sleep, retries = FakeSleep(), []
    script = Script((503, {"Retry-After": "7"}), (429, {"Retry-After": "2"}), 200)
    assert await send(script, RetryPolicy(), sleep, retries) == 200
    assert sleep.waits == [7.0, 2.0]
    assert script.calls == 3 and len(retries) == 2


async def test_a_retry_after_date_counts_from_now_and_every_wait_is_capped() -> None:
    sleep = FakeSleep()
    script = Script(
        (503, {"Retry-After": "Fri, 15 Jan 2027 08:00:30 GMT"}),  # NOW is 2027-01-15 08:00:00 UTC
        (503, {"Retry-After": "3600"}),
        200,
    )
    assert await send(script, RetryPolicy(max_wait_s=60.0), sleep) == 200
    assert sleep.waits == [30.0, 60.0]


async def test_without_retry_after_the_waits_grow_exponentially_with_jitter_up_to_the_cap() -> None:
    sleep = FakeSleep()
    script = Script(503, network_down(), network_down(), 503, network_down(), 200)
    policy = RetryPolicy(max_retries=10, max_wait_s=3.0, initial_backoff_s=0.5)
    assert await send(script, policy, sleep) == 200
    # attempt n waits 0.5 × 2^(n-1) plus up to 0.5 of jitter, never more than the cap
    bounds = [(0.5, 1.0), (1.0, 1.5), (2.0, 2.5), (3.0, 3.0), (3.0, 3.0)]
    assert len(sleep.waits) == len(bounds)
    for wait, (low, high) in zip(sleep.waits, bounds, strict=True):
        assert low <= wait <= high


@pytest.mark.parametrize("status", [200, 400, 401, 404, 413, 500])
async def test_definitive_answers_are_returned_at_once(status: int) -> None:
    sleep = FakeSleep()
    script = Script(status)
    assert await send(script, RetryPolicy(), sleep) == status
    assert sleep.waits == [] and script.calls == 1


async def test_the_last_503_is_returned_once_the_retries_are_spent() -> None:
    sleep = FakeSleep()
    script = Script(*[(503, {"Retry-After": "1"})] * 3)
    assert await send(script, RetryPolicy(max_retries=2), sleep) == 503
    assert script.calls == 3 and sleep.waits == [1.0, 1.0]


async def test_the_last_network_error_is_raised_once_the_retries_are_spent() -> None:
    sleep = FakeSleep()
    script = Script(network_down(), network_down())
    with pytest.raises(httpx.ConnectError):
        await send(script, RetryPolicy(max_retries=1), sleep)
    assert script.calls == 2 and len(sleep.waits) == 1


async def test_errors_other_than_network_ones_are_not_retried() -> None:
    script = Script(ValueError("a bug, not an outage"))
    with pytest.raises(ValueError):
        await send(script, RetryPolicy(), FakeSleep())
    assert script.calls == 1


def test_retry_after_forms() -> None:
    assert parse_retry_after("12", now=lambda: NOW) == 12.0
    assert parse_retry_after(" 0 ", now=lambda: NOW) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None
    assert parse_retry_after("Fri, 15 Jan 2027 07:00:00 GMT", now=lambda: NOW) == 0.0  # a date in the past
