"""Closing the alerts of rules that left the active rule set (PUT /v1/admin/rules, or a changed file at start).

A removed rule is no longer evaluated, so nothing would ever resolve what it left open: its firing alerts would
stay open forever in every receiver (webhook, e-mail, Alertmanager-style tools). Activating a rule set therefore
ends every pending or firing episode of a rule that is not in it, the way an ordinary resolution would
(`lifecycle.close`): pending ends silently, firing resolves and sends "resolved" exactly when receivers had the
firing message. The adapter runs this in the activation's own transaction, and a closed state is no longer
pending or firing, so a crash or a second activation never closes (or notifies) twice.

The rule's definition as it was last in force gives the labels and texts. Should no stored rule set still yield
it (a document the current loader no longer accepts), the state is closed all the same and the resolved message
copies the labels of the last message sent for the episode — the labels receivers know it by.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from services.alerts.domain.lifecycle import EvaluationResult, close
from services.alerts.domain.notifications import Notification, notification_id
from services.alerts.domain.rules import Rule, RuleSet
from services.alerts.domain.silences import Silence
from services.alerts.domain.state import AlertState, Transition, TransitionReason

REASON: TransitionReason = "rule_removed"
DISABLED_REASON: TransitionReason = "rule_disabled"


@dataclass(frozen=True)
class Removal:
    """Why an episode was closed: rule `rule_id` is not in rule set `rule_set_id`, or is there but disabled
    (`enabled: false`) — either way nothing would ever evaluate, and so resolve, its alerts again."""

    rule_id: str
    rule_set_id: int
    disabled: bool = False

    @property
    def reason(self) -> TransitionReason:
        return DISABLED_REASON if self.disabled else REASON

    @property
    def text_vi(self) -> str:
        if self.disabled:
            return f"Quy tắc {self.rule_id} đã bị tắt trong bộ quy tắc số {self.rule_set_id}; cảnh báo được đóng."
        return (
            f"Quy tắc {self.rule_id} đã bị gỡ khỏi bộ quy tắc đang áp dụng (bộ số {self.rule_set_id}); "
            "cảnh báo được đóng."
        )

    @property
    def text_en(self) -> str:
        if self.disabled:
            return f"Rule {self.rule_id} was disabled in rule set {self.rule_set_id}; alert closed."
        return f"Rule {self.rule_id} was removed from the active rule set (set {self.rule_set_id}); alert closed."

    @property
    def comment(self) -> str:
        """For the transition's comment: Vietnamese first, like the other texts."""
        return f"{self.text_vi} / {self.text_en}"

    @property
    def annotations(self) -> dict[str, str]:
        """Added to the resolved message, so people who receive it know why it ended."""
        return {"resolved_reason": self.text_vi, "resolved_reason_en": self.text_en}


def is_orphan(state: AlertState, rules: RuleSet) -> bool:
    """A live episode whose rule is not in the set, or is disabled there."""
    if state.state not in ("pending", "firing"):
        return False
    rule = rules.by_id(state.rule_id)
    return rule is None or not rule.enabled


def _resolved_copy(last: Notification, state: AlertState, now: datetime, removal: Removal) -> Notification:
    assert state.fired_at is not None
    return last.model_copy(
        update={
            "id": notification_id(state.rule_id, state.unit_id, state.fired_at, "resolved", state.sequence),
            "kind": "resolved",
            "status": "resolved",
            "annotations": {**last.annotations, **removal.annotations},
            "starts_at": state.fired_at,
            "ends_at": now,
            "created_at": now,
            "value": state.last_value,
            "sequence": state.sequence,
            "items": list(state.items),
        }
    )


def close_without_rule(
    state: AlertState, removal: Removal, now: datetime, last: Notification | None
) -> EvaluationResult:
    """The fallback when no definition of the rule is left: same states and ids as `lifecycle.close`; the labels
    and texts of the resolved message are those of `last`, the episode's last message (if it is this episode's).
    Without labels, no silence can be matched: the transition lists none."""
    to_state = "inactive" if state.state == "pending" else "resolved"
    transition = Transition(
        rule_id=state.rule_id, unit_id=state.unit_id, from_state=state.state, to_state=to_state, at=now,
        value=state.last_value, reason=removal.reason, comment=removal.comment,
    )  # fmt: skip
    if to_state == "inactive":
        ended = state.model_copy(update={"state": "inactive", "pending_since": None, "active_since": None})
        return EvaluationResult(ended, [transition], [])
    closed = state.model_copy(
        update={"state": "resolved", "resolved_at": now, "resolved_value": state.last_value, "pending_since": None}
    )
    episode_known = last is not None and state.fired_at is not None and last.starts_at == state.fired_at
    if not state.firing_delivered or not episode_known:
        return EvaluationResult(closed, [transition], [])
    assert last is not None
    notification = _resolved_copy(last, state, now, removal)
    closed = closed.model_copy(
        update={"sequence": state.sequence + 1, "last_notified_at": now, "notified_items_key": state.items_key}
    )
    return EvaluationResult(closed, [transition], [notification])


def retire_orphans(
    states: Iterable[AlertState],
    rules: RuleSet,
    rule_set_id: int,
    now: datetime,
    definitions: Mapping[str, Rule],
    last_notices: Mapping[tuple[str, str], Notification] | None = None,
    silences: Iterable[Silence] = (),
) -> list[EvaluationResult]:
    """Close every pending/firing state whose rule is not in `rules` (rule set `rule_set_id`, now active) or is
    disabled there.
    `definitions`: the removed rules as last in force, by id; `last_notices`: the last message of each
    (rule_id, unit_id) episode, needed only where a definition is missing."""
    active_silences = tuple(silences)
    notices = last_notices or {}
    results: list[EvaluationResult] = []
    for state in states:
        if not is_orphan(state, rules):
            continue
        in_set = rules.by_id(state.rule_id)
        removal = Removal(state.rule_id, rule_set_id, disabled=in_set is not None)
        # A disabled rule is its own definition; a removed one is as it was last in force.
        rule = in_set if in_set is not None else definitions.get(state.rule_id)
        if rule is None:
            results.append(close_without_rule(state, removal, now, notices.get((state.rule_id, state.unit_id))))
            continue
        results.append(
            close(
                state,
                rule,
                now,
                removal.reason,
                active_silences,
                comment=removal.comment,
                annotations=removal.annotations,
            )
        )
    return results
