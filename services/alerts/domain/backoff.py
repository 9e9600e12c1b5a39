"""Retry timing for outbox deliveries: exponential backoff with full jitter and a cap.

Full jitter (delay = uniform(0, min(cap, base·2^(n−1)))) spreads the retries of many failed deliveries over
time, so a receiver coming back up is not hit by all of them at once (the retry storms of Alertmanager #2286).
A receiver's Retry-After is honoured (up to the cap). Client errors other than 408/429 are not retried: the
same body will be refused again, and repeating it only adds load.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.alerts.domain.rules import Duration

DeliveryOutcome = Literal["delivered", "retry", "reject"]


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base: Duration = Field(timedelta(seconds=2), description="Ceiling of the first delay")
    cap: Duration = Field(timedelta(minutes=10), description="No delay is longer than this")
    max_attempts: int = Field(20, ge=1, description="Give up after this many failed attempts")
    max_age: Duration = Field(timedelta(hours=24), description="Give up when the first attempt is this old")


@dataclass(frozen=True)
class RetryDecision:
    give_up: bool
    retry_at: datetime | None
    reason: str


def backoff_delay(
    failed_attempts: int,
    base_seconds: float,
    cap_seconds: float,
    random01: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after the n-th failure (n ≥ 1): uniform in [0, min(cap, base·2^(n−1)))."""
    if failed_attempts < 1:
        raise ValueError("failed_attempts starts at 1")
    ceiling = min(cap_seconds, base_seconds * 2 ** min(failed_attempts - 1, 62))
    draw = random01()
    if not 0.0 <= draw < 1.0:
        raise ValueError("random01 must return a number in [0, 1)")
    return draw * ceiling


def classify_http_status(status: int | None) -> DeliveryOutcome:
    """None = no response (connection refused, timeout, TLS error): retry."""
    if status is None or status in (408, 425, 429) or status >= 500:
        return "retry"
    if 200 <= status < 300:
        return "delivered"
    return "reject"


def next_retry(
    policy: RetryPolicy,
    failed_attempts: int,
    first_attempt_at: datetime,
    now: datetime,
    random01: Callable[[], float] = random.random,
    retry_after_seconds: float | None = None,
) -> RetryDecision:
    """When to try again after a failure, or give up (the outbox row is then parked as dead, not deleted)."""
    if failed_attempts >= policy.max_attempts:
        return RetryDecision(True, None, f"gave up after {failed_attempts} attempts")
    if now - first_attempt_at >= policy.max_age:
        return RetryDecision(True, None, "gave up: older than max_age")
    cap = policy.cap.total_seconds()
    delay = backoff_delay(failed_attempts, policy.base.total_seconds(), cap, random01)
    if retry_after_seconds is not None and retry_after_seconds > 0:
        delay = max(delay, min(retry_after_seconds, cap))
    return RetryDecision(False, now + timedelta(seconds=delay), f"retry in {delay:.1f}s")
