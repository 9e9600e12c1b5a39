"""The silences use case (service/silences.py) on a hand-written fake store: a silence starts now unless told,
a period in the past or upside down is refused with the API's words, expiring tells expired, deleted and unknown
apart."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from services.alerts.domain.silences import Matcher, Silence
from services.alerts.service.silences import InvalidSilence, Silences
from tests.unit.alerts.factories import T0, minutes
from tests.unit.alerts.fakes import FakeClock

pytestmark = pytest.mark.unit

UNIT = [Matcher(name="unit_id", value="quan-ba-dinh")]


class FakeSilenceStore:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    async def create_silence(self, silence: Silence) -> dict[str, Any]:
        row = {"silence_id": silence.id, "starts_at": silence.starts_at, "ends_at": silence.ends_at,
               "expired_at": None}  # fmt: skip
        self.rows[silence.id] = row
        return row

    async def get_silence(self, silence_id: str) -> dict[str, Any] | None:
        return self.rows.get(silence_id)

    async def expire_silence(self, silence_id: str, now: datetime) -> dict[str, Any] | None:
        row = self.rows.get(silence_id)
        if row is None or row["expired_at"] is not None:
            return None
        row["expired_at"] = now
        return row


def silences() -> tuple[Silences, FakeSilenceStore]:
    store = FakeSilenceStore()
    return Silences(store, FakeClock(), new_id=lambda: f"s{len(store.rows) + 1}"), store


async def test_a_silence_starts_now_unless_told_and_is_stored() -> None:
    use_case, store = silences()
    row, now = await use_case.create(UNIT, None, T0 + minutes(30), "bảo trì", "vanhanh")
    assert now == T0 and row["starts_at"] == T0 and list(store.rows) == ["s1"]
    later, _ = await use_case.create(UNIT, T0 + minutes(10), T0 + minutes(30), "bảo trì", "vanhanh")
    assert later["starts_at"] == T0 + minutes(10)


async def test_a_period_in_the_past_or_upside_down_is_refused() -> None:
    use_case, store = silences()
    with pytest.raises(InvalidSilence, match="ends_at is in the past"):
        await use_case.create(UNIT, T0 - minutes(30), T0 - minutes(1), "muộn", "vanhanh")
    with pytest.raises(InvalidSilence, match=r"^Khoảng thời gian không hợp lệ / "):
        await use_case.create(UNIT, T0 + minutes(30), T0 + minutes(10), "ngược", "vanhanh")
    assert store.rows == {}


async def test_expiring_tells_expired_deleted_and_unknown_apart() -> None:
    use_case, _ = silences()
    row, _ = await use_case.create(UNIT, None, T0 + minutes(30), "bảo trì", "vanhanh")

    assert await use_case.expire(row["silence_id"]) == ("expired", row)
    assert row["expired_at"] == T0
    assert await use_case.expire(row["silence_id"]) == ("deleted", None)
    assert await use_case.expire("nobody") == ("unknown", None)
