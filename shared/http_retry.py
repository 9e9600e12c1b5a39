"""Sending one HTTP request until it gets a definitive answer, the way SPEC §7 asks clients to retry.

Retried: 429 and 503 (the server says "later"; nothing of the request counted) and network errors (the server is
restarting or unreachable). The wait before a retry is the server's `Retry-After` when it sent one (capped), else
exponential backoff with jitter, so that many clients of one restarted server do not come back in lock-step.
Anything else (200, 4xx, 500 ...) is returned at once: retrying it would give the same answer.

Built on tenacity rather than a hand-written loop: the bulk import and the simulator each had one, and they had
drifted apart (one ignored 429 and HTTP-date Retry-After, the other never backed off without a Retry-After).
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential_jitter,
)

RETRYABLE_STATUSES = frozenset({429, 503})

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long one request is retried: `max_retries` after the first attempt, no wait longer than `max_wait_s`."""

    max_retries: int = 20
    max_wait_s: float = 60.0
    initial_backoff_s: float = 0.5


def parse_retry_after(value: str | None, *, now: Clock = time.time) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


def retry_after_seconds(value: str | None, default: float = 1.0) -> float:
    """`parse_retry_after`, with `default` when the header says nothing usable."""
    seconds = parse_retry_after(value)
    return default if seconds is None else seconds


def is_retryable(response: httpx.Response) -> bool:
    return response.status_code in RETRYABLE_STATUSES


class _RetryAfterOrBackoff:
    """tenacity wait strategy: the response's Retry-After (capped) when there is one, jittered backoff otherwise."""

    def __init__(self, policy: RetryPolicy, now: Clock) -> None:
        self._cap = policy.max_wait_s
        self._now = now
        self._backoff = wait_exponential_jitter(
            multiplier=policy.initial_backoff_s, max=policy.max_wait_s, jitter=policy.initial_backoff_s
        )

    def __call__(self, state: RetryCallState) -> float:
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            response: httpx.Response = outcome.result()
            seconds = parse_retry_after(response.headers.get("Retry-After"), now=self._now)
            if seconds is not None:
                return min(seconds, self._cap)
        return float(self._backoff(state))


def _last_outcome(state: RetryCallState) -> httpx.Response:
    """Once the retries are spent: the last 429/503 response, or the last network error raised."""
    assert state.outcome is not None
    response: httpx.Response = state.outcome.result()
    return response


async def send_with_retry(
    send: Callable[[], Awaitable[httpx.Response]],
    policy: RetryPolicy,
    *,
    sleep: Sleep = asyncio.sleep,
    now: Clock = time.time,
    on_retry: Callable[[], None] | None = None,
) -> httpx.Response:
    """`await send()` until the answer is neither 429/503 nor a network error, or `policy.max_retries` are spent.

    Returns the first definitive response, or the last 429/503 once the retries are spent; raises the last
    `httpx.TransportError` when the network never let a request through. `on_retry` is called before each wait
    (e.g. to count retries); `sleep` and `now` are injectable so tests need no real waiting.
    """

    async def attempt() -> httpx.Response:
        # tenacity awaits only coroutine functions; `send` may be a lambda returning an awaitable.
        return await send()

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.max_retries + 1),
        wait=_RetryAfterOrBackoff(policy, now),
        retry=retry_if_exception_type(httpx.TransportError) | retry_if_result(is_retryable),
        sleep=sleep,
        before_sleep=(lambda _state: on_retry()) if on_retry is not None else None,
        retry_error_callback=_last_outcome,
    )
    response: httpx.Response = await retrying(attempt)
    return response
