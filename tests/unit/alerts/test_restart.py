"""Nothing lost, nothing doubled across restarts (Alertmanager #2370): the state round-trips through JSON and
re-running a step yields the same notification ids, so the outbox and receivers can drop duplicates."""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.alerts.domain.lifecycle import evaluate
from services.alerts.domain.observations import Observation
from services.alerts.domain.state import AlertState
from tests.unit.alerts.factories import T0, Runner, minutes, near_due_rule, obs, threshold_rule

RULE = threshold_rule(**{"for": "30m", "repeat_interval": "2h"})
VALUES = [0.60, 0.50, 0.52, None, 0.54, 0.565, 0.50, 0.58, 0.40, 0.41, 0.45, 0.70, 0.30]


def _script() -> list[tuple[Observation | None, object]]:
    """Messages every 20 minutes with ticks in between (observation None)."""
    steps: list[tuple[Observation | None, object]] = []
    for i, value in enumerate(VALUES):
        at = T0 + minutes(40 * i)
        steps.append((obs(value, at), at))
        steps.append((None, at + minutes(20)))
    steps.append((None, T0 + timedelta(days=1)))
    return steps


def _run_straight() -> Runner:
    run = Runner(RULE)
    for observation, now in _script():
        run.step(observation, now)  # type: ignore[arg-type]
    return run


def test_serialising_state_midway_gives_the_same_ids_and_no_duplicates() -> None:
    straight = _run_straight()
    assert {"firing", "repeat", "resolved"} <= set(straight.kinds())

    restarted = Runner(RULE)
    for index, (observation, now) in enumerate(_script()):
        # The adapter stores JSON; a restart reads it back before every step.
        stored = json.dumps(restarted.state.to_dict())
        restarted.state = AlertState.from_dict(json.loads(stored))
        if index % 3 == 0:
            # Crash before commit: the step ran, its effects were lost, it runs again later.
            evaluate(restarted.state, observation, now, RULE)  # type: ignore[arg-type]
        restarted.step(observation, now)  # type: ignore[arg-type]

    assert [n.id for n in restarted.notifications] == [n.id for n in straight.notifications]
    assert restarted.state == straight.state
    ids = [n.id for n in straight.notifications]
    assert len(ids) == len(set(ids))


def test_rerunning_a_committed_step_emits_nothing_new() -> None:
    run = Runner(threshold_rule(**{"for": "0s"}))
    message = obs(0.5, T0)
    first = run.step(message, T0)
    assert [n.kind for n in first.notifications] == ["firing"]
    # Kafka redelivers the same message after the commit: it is not newer than what was used.
    again = run.step(message, T0 + minutes(1))
    assert again.notifications == [] and again.transitions == []


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=12))
def test_ids_do_not_depend_on_when_a_late_tick_runs(delay_minutes: int) -> None:
    """A pending alert fires at pending_since + for whenever the tick runs, so the id is the same."""
    state = Runner(RULE)
    state.see(0.5, T0)
    on_time = evaluate(state.state, None, T0 + minutes(30), RULE)
    late = evaluate(state.state, None, T0 + minutes(30 + delay_minutes), RULE)
    assert [n.id for n in on_time.notifications] == [n.id for n in late.notifications]
    assert len(on_time.notifications) == 1


def test_near_due_state_with_items_round_trips() -> None:
    from shared.indicators import NearDueDossier

    rule = near_due_rule()
    run = Runner(rule)
    dossier = NearDueDossier(
        dossier_id="HS-1", procedure_id="1.000123", unit_id="quan-ba-dinh", due_at=T0 + timedelta(hours=3)
    )
    run.step(obs(1.0, T0, items=(dossier,), period=None), T0)
    restored = AlertState.from_dict(json.loads(json.dumps(run.state.to_dict())))
    assert restored == run.state
    assert restored.items[0].due_at == T0 + timedelta(hours=3)
