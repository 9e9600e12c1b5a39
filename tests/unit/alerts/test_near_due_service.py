"""The near-due digest (service/near_due.py) on hand-written fakes: only units that may have dossiers due soon
(or whose near-due alert is live) are asked, each with its longest horizon; a unit scoring did not answer for is
skipped; the lists fire one digest alert per unit, and an emptied list resolves it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.alerts.domain.rules import RuleSet
from services.alerts.service.evaluation import Evaluator
from services.alerts.service.near_due import NearDuePass
from services.alerts.service.receivers import ReceiverRegistry
from services.alerts.service.rule_book import RuleBook
from shared.indicators import NearDueDossier, UnitNearDue
from tests.unit.alerts.factories import T0, indicators, near_due_rule, threshold_rule
from tests.unit.alerts.fakes import FakeAlertStore, FakeClock, FakeNearDueSource, webhook_receivers

pytestmark = pytest.mark.unit

BA_VI = {"unit_id": "huyen-ba-vi", "name": "Huyện Ba Vì"}
TAY_HO = {"unit_id": "quan-tay-ho", "name": "Quận Tây Hồ"}


def live(unit: dict[str, str], *, due_soon: int, open_: int = 10) -> object:
    return indicators(**unit, live={"open": open_, "overdue_open": 0, "due_soon": due_soon, "as_of": T0.isoformat()})


def near_due_list(unit_id: str, *hours: float, at: timedelta = timedelta(0)) -> UnitNearDue:
    return UnitNearDue(
        unit_id=unit_id, name=unit_id, level="district", ancestors=["ha-noi"], as_of=T0 + at,
        dossiers=[NearDueDossier(dossier_id=f"HS-{h:g}", procedure_id=None, unit_id=unit_id,
                                 due_at=T0 + timedelta(hours=h)) for h in hours],
    )  # fmt: skip


def digest(rules: RuleSet, *units: object) -> tuple[NearDuePass, FakeAlertStore, FakeNearDueSource]:
    store, source = FakeAlertStore(), FakeNearDueSource()
    for message in units:
        store.live[message.unit_id] = message  # type: ignore[attr-defined]
    active = store.add_rule_set(rules)
    evaluator = Evaluator(store, RuleBook(active), ReceiverRegistry(webhook_receivers("ops")), FakeClock())
    return NearDuePass(store, source, evaluator), store, source


async def test_only_units_with_dossiers_due_soon_are_asked_and_their_lists_fire_one_digest_each() -> None:
    ba_dinh, ba_vi, tay_ho = indicators(), live(BA_VI, due_soon=2), live(TAY_HO, due_soon=0)
    use_case, store, source = digest(RuleSet((near_due_rule(),)), ba_dinh, ba_vi, tay_ho)
    source.lists = {"quan-ba-dinh": near_due_list("quan-ba-dinh", 2, 5), "huyen-ba-vi": near_due_list("huyen-ba-vi")}

    await use_case.run()

    assert sorted(unit for unit, _ in source.asked) == ["huyen-ba-vi", "quan-ba-dinh"]
    assert {horizon for _, horizon in source.asked} == {timedelta(hours=24)}
    assert store.state("near-due", "quan-ba-dinh").state == "firing"
    assert ("near-due", "huyen-ba-vi") not in store.states or store.state("near-due", "huyen-ba-vi").state != "firing"
    assert store.kinds() == ["firing"] and len(store.outbox) == 1


async def test_a_longer_horizon_asks_every_unit_with_open_dossiers() -> None:
    use_case, _, source = digest(RuleSet((near_due_rule(horizon="72h"),)), live(TAY_HO, due_soon=0))
    await use_case.run()
    assert source.asked == [("quan-tay-ho", timedelta(hours=72))]


async def test_a_live_digest_is_asked_again_and_resolves_when_its_list_empties() -> None:
    use_case, store, source = digest(RuleSet((near_due_rule(),)), indicators())
    source.lists = {"quan-ba-dinh": near_due_list("quan-ba-dinh", 3)}
    await use_case.run()
    store.live["quan-ba-dinh"] = live({"unit_id": "quan-ba-dinh", "name": "Quận Ba Đình"}, due_soon=0)
    source.lists = {"quan-ba-dinh": near_due_list("quan-ba-dinh", at=timedelta(minutes=10))}
    use_case.evaluator.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]

    await use_case.run()

    assert store.state("near-due", "quan-ba-dinh").state == "resolved"
    assert store.kinds() == ["firing", "resolved"]


async def test_a_unit_scoring_did_not_answer_for_is_skipped_and_nothing_is_written() -> None:
    use_case, store, source = digest(RuleSet((near_due_rule(),)), indicators())
    assert await use_case.run() == (0, 0)
    assert source.asked and store.states == {}


async def test_without_near_due_rules_scoring_is_not_asked() -> None:
    use_case, store, source = digest(RuleSet((threshold_rule(),)), indicators())
    assert await use_case.run() == (0, 0)
    assert source.asked == [] and store.sessions == 0
