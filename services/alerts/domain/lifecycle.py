"""The alert state machine: inactive → pending → firing → resolved, as one pure function.

`evaluate(state, observation, now, rule, silences)` runs on every message (observation given) and on every timer
tick (observation None). It returns the new state, the transitions to record, and the notifications to put in
the outbox — the adapter stores all three in ONE database transaction, so a crash either loses the whole step
(re-run gives the same result) or none of it.

Decisions (see docs/alerts.md):
- Event time, not run time. A transition caused by a message is dated by the message (computed_at / as_of);
  a firing caused by the clock is dated pending_since + for. Notification ids hash (rule, unit, fired_at, kind,
  sequence), so re-running a step after a restart yields the same ids and the outbox/receivers drop duplicates.
- Messages older than the last one used (or of an older period, e.g. a late event recomputing last month) are
  ignored: alerts follow the newest figures only.
- Hysteresis: a pending alert needs `value op threshold` to keep holding; a firing one stays while
  `value op clear_threshold` holds (the wider band), so values wobbling around the threshold send nothing.
- No data (null value or denominator below the minimum): inactive stays inactive, pending drops to inactive
  (cannot confirm), firing keeps firing unless the rule says `on_no_data: resolve` (a new month starts with tiny
  denominators; resolving then would flap at every month boundary).
- Silences mute firing, repeat and refresh notifications; transitions are still recorded. When the silence ends
  and the alert is still firing but receivers never heard of it, the firing notification goes out at the next
  evaluation or tick (Alertmanager does the same at its next group_interval); if they had heard of it, repeats
  resume on their normal schedule. A resolved notification is sent whenever the firing one was delivered, even
  under a silence: it only closes what receivers already have open, and a ticket left open forever is worse.
- Acknowledgement stops repeats and refreshes until the episode resolves; the next episode starts unacknowledged.
- A rule that leaves the active rule set closes its episodes (`close`) the way an ordinary resolution would:
  pending ends silently, firing resolves and sends "resolved" exactly when the firing message went out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import NamedTuple

from services.alerts.domain.alert_text import annotations_for
from services.alerts.domain.notifications import Notification, NotificationKind, alert_labels, notification_id
from services.alerts.domain.observations import Observation
from services.alerts.domain.rules import ComparedRule, ForecastRule, NearDueRule, Rule, ThresholdRule, condition_holds
from services.alerts.domain.silences import Silence, silencing
from services.alerts.domain.state import AlertState, GrowthSample, Transition, TransitionReason

# Growth rules keep about this many samples per window: enough resolution, bounded state size.
_SAMPLES_PER_WINDOW = 24


class EvaluationResult(NamedTuple):
    state: AlertState
    transitions: list[Transition]
    notifications: list[Notification]


class AcknowledgementError(ValueError):
    """Only a firing alert can be acknowledged."""


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: pass an aware datetime")


def labels_of(rule: Rule, state: AlertState) -> dict[str, str]:
    return alert_labels(rule.id, state.unit_id, rule.severity, state.level, rule.labels)


def _comparison(rule: Rule) -> tuple[str, float, float]:
    if isinstance(rule, ComparedRule):
        return rule.comparison, rule.threshold, rule.effective_clear_threshold
    return ">=", float(rule.min_dossiers), float(rule.min_dossiers)


def _pending_duration(rule: Rule) -> timedelta:
    return rule.for_ if isinstance(rule, ComparedRule) else timedelta(0)


def _growth(
    samples: tuple[GrowthSample, ...], at: datetime, raw: float, window: timedelta
) -> tuple[tuple[GrowthSample, ...], float | None]:
    """Increase of a counter over `window`, against the newest sample at least `window` old (or the oldest one
    while history is shorter); None (no data) without an earlier sample — the first one only sets the baseline.
    Keeps that baseline plus newer samples, at most ~_SAMPLES_PER_WINDOW of them."""
    known = [s for s in samples if s.at <= at]
    cutoff = at - window
    older = [s for s in known if s.at <= cutoff]
    baseline = older[-1] if older else (known[0] if known else None)
    value = raw - baseline.value if baseline is not None else None
    kept = ([older[-1]] if older else []) + [s for s in known if s.at > cutoff]
    if not kept or at - kept[-1].at >= window / _SAMPLES_PER_WINDOW:
        kept.append(GrowthSample(at=at, value=raw))
    return tuple(kept), value


def _items_key(observation: Observation) -> str:
    material = "\n".join(f"{d.dossier_id}\x1f{d.due_at.isoformat()}" for d in observation.items)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def _is_stale(state: AlertState, observation: Observation, at: datetime) -> bool:
    if state.last_observed_at is not None and at <= state.last_observed_at:
        return True
    return bool(state.period and observation.period and observation.period < state.period)


class _Step:
    """One evaluation: accumulates transitions and notifications while the state is advanced."""

    def __init__(
        self,
        rule: Rule,
        now: datetime,
        silences: Iterable[Silence],
        comment: str | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        self.rule = rule
        self.now = now
        self.silences = tuple(silences)
        # Set only when the system ends an episode for a cause outside the rule (e.g. the rule was removed):
        # the words go on the transitions and into the notifications' annotations.
        self.comment = comment
        self.annotations = dict(annotations or {})
        self.transitions: list[Transition] = []
        self.notifications: list[Notification] = []

    def silenced_by(self, state: AlertState) -> list[str]:
        subtree = frozenset((state.unit_id, *state.ancestors))
        return silencing(self.silences, labels_of(self.rule, state), subtree, self.now)

    def record(
        self, state: AlertState, to_state: str, at: datetime, value: float | None, reason: TransitionReason
    ) -> None:
        self.transitions.append(
            Transition(
                rule_id=state.rule_id,
                unit_id=state.unit_id,
                from_state=state.state,
                to_state=to_state,  # type: ignore[arg-type]
                at=at,
                value=value,
                reason=reason,
                silenced_by=self.silenced_by(state),
                comment=self.comment,
            )
        )

    def emit(self, state: AlertState, kind: NotificationKind) -> AlertState:
        assert state.fired_at is not None
        resolved = kind == "resolved"
        value = state.resolved_value if resolved else state.last_value
        self.notifications.append(
            Notification(
                id=notification_id(state.rule_id, state.unit_id, state.fired_at, kind, state.sequence),
                kind=kind,
                status="resolved" if resolved else "firing",
                rule_id=state.rule_id,
                unit_id=state.unit_id,
                severity=self.rule.severity,
                labels=labels_of(self.rule, state),
                annotations={**annotations_for(self.rule, state, value), **self.annotations},
                starts_at=state.fired_at,
                ends_at=state.resolved_at if resolved else None,
                created_at=self.now,
                value=value,
                sequence=state.sequence,
                items=list(state.items),
            )
        )
        return state.model_copy(
            update={
                "sequence": state.sequence + 1,
                "last_notified_at": self.now,
                "notified_items_key": state.items_key,
            }
        )

    # --- observation-driven part ---------------------------------------------------------------------------

    def absorb(self, state: AlertState, observation: Observation) -> AlertState:
        at = min(observation.observed_at, self.now)
        if _is_stale(state, observation, at):
            return state
        rule = self.rule
        if isinstance(rule, ThresholdRule) and rule.growth_window is not None and observation.catching_up:
            # The counter is moving with a back-fill or a replay being applied, not with time: a sample now would
            # make that arrival look like growth, and so would one taken before (docs/alerts.md §2.1). The history
            # restarts: the first settled observation after the catch-up is the new baseline.
            return state.model_copy(update={"samples": ()})
        update: dict[str, object] = {
            "unit_name": observation.unit.name,
            "level": observation.unit.level,
            "ancestors": observation.unit.ancestors,
            "period": observation.period or state.period,
            "last_observed_at": at,
            "last_denominator": observation.denominator,
            "last_rank": observation.rank,
            "last_rank_of": observation.rank_of,
        }
        value = observation.value
        if isinstance(rule, ThresholdRule) and rule.growth_window is not None and value is not None:
            update["samples"], value = _growth(state.samples, at, value, rule.growth_window)
        if isinstance(rule, NearDueRule):
            update["items"] = observation.items[: rule.max_listed]
            update["item_count"] = len(observation.items)
            update["items_key"] = _items_key(observation)
        if isinstance(rule, ForecastRule):
            update["forecast_current"] = observation.current
            update["forecast_due"] = observation.due_this_month
            update["forecast_overdue"] = observation.overdue_open
        if value is not None:
            update["last_value"] = value
        return self.judge(state.model_copy(update=update), value, at)

    def judge(self, state: AlertState, value: float | None, at: datetime) -> AlertState:
        comparison, threshold, clear_threshold = _comparison(self.rule)
        fires = value is not None and condition_holds(value, comparison, threshold)  # type: ignore[arg-type]
        stays = value is not None and condition_holds(value, comparison, clear_threshold)  # type: ignore[arg-type]
        if state.state in ("inactive", "resolved"):
            return self.start_pending(state, value, at) if fires else state
        if state.state == "pending":
            if fires:
                return state
            return self.drop_pending(state, value, at, "no_data" if value is None else "condition_cleared")
        # firing
        if value is None:
            no_data_resolves = isinstance(self.rule, ComparedRule) and self.rule.on_no_data == "resolve"
            return self.resolve(state, value, at, "no_data") if no_data_resolves else state
        return state if stays else self.resolve(state, value, at, "condition_cleared")

    def start_pending(self, state: AlertState, value: float | None, at: datetime) -> AlertState:
        self.record(state, "pending", at, value, "condition_met")
        return state.model_copy(
            update={
                "state": "pending",
                "active_since": at,
                "pending_since": at,
                "pending_value": value,
                "fired_at": None,
                "fired_value": None,
                "resolved_at": None,
                "resolved_value": None,
                "acknowledged_at": None,
                "acknowledged_by": None,
                "last_notified_at": None,
                "notified_items_key": None,
                "sequence": 0,
                "firing_delivered": False,
            }
        )

    def drop_pending(
        self, state: AlertState, value: float | None, at: datetime, reason: TransitionReason
    ) -> AlertState:
        self.record(state, "inactive", at, value, reason)
        return state.model_copy(update={"state": "inactive", "pending_since": None, "active_since": None})

    def resolve(self, state: AlertState, value: float | None, at: datetime, reason: TransitionReason) -> AlertState:
        self.record(state, "resolved", at, value, reason)
        resolved = state.model_copy(
            update={"state": "resolved", "resolved_at": at, "resolved_value": value, "pending_since": None}
        )
        return self.emit(resolved, "resolved") if state.firing_delivered else resolved

    # --- clock-driven part ---------------------------------------------------------------------------------

    def advance_pending(self, state: AlertState) -> AlertState:
        if state.state != "pending" or state.pending_since is None:
            return state
        due = state.pending_since + _pending_duration(self.rule)
        if self.now < due:
            return state
        self.record(state, "firing", due, state.last_value, "for_elapsed")
        return state.model_copy(
            update={"state": "firing", "fired_at": due, "fired_value": state.last_value, "pending_since": None}
        )

    def notify_while_firing(self, state: AlertState) -> AlertState:
        if state.state != "firing" or self.silenced_by(state):
            return state
        if not state.firing_delivered:
            return self.emit(state, "firing").model_copy(update={"firing_delivered": True})
        if state.is_acknowledged or state.last_notified_at is None:
            return state
        since_last = self.now - state.last_notified_at
        rule = self.rule
        if (
            isinstance(rule, NearDueRule)
            and state.items_key != state.notified_items_key
            and since_last >= rule.refresh_interval
        ):
            return self.emit(state, "refresh")
        if rule.repeat_interval is not None and since_last >= rule.repeat_interval:
            return self.emit(state, "repeat")
        return state


def evaluate(
    state: AlertState,
    observation: Observation | None,
    now: datetime,
    rule: Rule,
    silences: Iterable[Silence] = (),
) -> EvaluationResult:
    """Advance one (rule, unit) alert by a new observation, or by the clock alone when observation is None."""
    _require_aware(now)
    if state.rule_id != rule.id:
        raise ValueError(f"state of rule {state.rule_id!r} evaluated with rule {rule.id!r}")
    step = _Step(rule, now, silences)
    if observation is not None:
        if observation.unit.unit_id != state.unit_id:
            raise ValueError(f"observation of unit {observation.unit.unit_id!r} for state of {state.unit_id!r}")
        _require_aware(observation.observed_at)
        state = step.absorb(state, observation)
    state = step.advance_pending(state)
    state = step.notify_while_firing(state)
    return EvaluationResult(state, step.transitions, step.notifications)


def close(
    state: AlertState,
    rule: Rule,
    at: datetime,
    reason: TransitionReason,
    silences: Iterable[Silence] = (),
    *,
    comment: str | None = None,
    annotations: Mapping[str, str] | None = None,
) -> EvaluationResult:
    """End the current episode for a cause outside the rule's condition (its rule left the active set), with the
    outcome an ordinary resolution has: pending → inactive and nothing sent (receivers never heard of it);
    firing → resolved, with a resolved message whenever the firing one went out — silenced or acknowledged
    alike, since it only closes what receivers already hold open. `rule` is the rule as it was last in force, so
    the message carries the labels (hence the fingerprint) of the firing one. Other states are left as they are.
    `comment` goes on the transition, `annotations` are added to the resolved message's."""
    _require_aware(at)
    if state.rule_id != rule.id:
        raise ValueError(f"state of rule {state.rule_id!r} closed with rule {rule.id!r}")
    step = _Step(rule, at, silences, comment=comment, annotations=annotations)
    if state.state == "pending":
        state = step.drop_pending(state, state.last_value, at, reason)
    elif state.state == "firing":
        state = step.resolve(state, state.last_value, at, reason)
    return EvaluationResult(state, step.transitions, step.notifications)


def acknowledge(state: AlertState, by: str, at: datetime) -> tuple[AlertState, Transition]:
    """Stop repeats of the current episode. Acknowledging twice keeps the first acknowledgement."""
    _require_aware(at)
    if state.state != "firing":
        raise AcknowledgementError(f"only a firing alert can be acknowledged (this one is {state.state})")
    if not by.strip():
        raise AcknowledgementError("say who acknowledges")
    transition = Transition(
        rule_id=state.rule_id,
        unit_id=state.unit_id,
        from_state="firing",
        to_state="firing",
        at=at,
        value=state.last_value,
        reason="acknowledged",
        actor=by,
    )
    if state.is_acknowledged:
        return state, transition
    return state.model_copy(update={"acknowledged_at": at, "acknowledged_by": by}), transition
