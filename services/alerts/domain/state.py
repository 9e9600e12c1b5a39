"""Persistent per-(rule, unit) alert state and the transition records kept as history.

Everything here serialises to plain JSON (`to_dict`) and back (`from_dict`) so the adapter can keep it in one
PostgreSQL jsonb column; a restart continues exactly where the last committed evaluation stopped.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.indicators import NearDueDossier

AlertStatus = Literal["inactive", "pending", "firing", "resolved"]
TransitionReason = Literal[
    "condition_met", "for_elapsed", "condition_cleared", "no_data", "acknowledged", "rule_removed", "rule_disabled"
]


class GrowthSample(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: AwareDatetime = Field(description="When the counter had this value")
    value: float = Field(description="Raw counter value")


class AlertState(BaseModel):
    """Where one rule stands for one unit. Times are aware datetimes; absent ones are null."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: str = Field(description="Rule")
    unit_id: str = Field(description="Unit")
    state: AlertStatus = Field("inactive", description="inactive, pending, firing or resolved")
    unit_name: str = Field("", description="Unit name at the last observation (for texts on timer ticks)")
    level: str = Field("", description="Unit level at the last observation")
    ancestors: tuple[str, ...] = Field((), description="Unit ancestors at the last observation")
    period: str | None = Field(None, description="Period of the last observation; older periods are ignored")
    active_since: AwareDatetime | None = Field(None, description="Start of the current episode (first pending)")
    pending_since: AwareDatetime | None = Field(None, description="While pending: when the condition began to hold")
    fired_at: AwareDatetime | None = Field(None, description="When the current/last episode fired")
    resolved_at: AwareDatetime | None = Field(None, description="When the last episode resolved")
    last_notified_at: AwareDatetime | None = Field(None, description="Last notification delivered to outbox")
    acknowledged_at: AwareDatetime | None = Field(None, description="Acknowledgement of the current episode")
    acknowledged_by: str | None = Field(None, description="Who acknowledged")
    last_value: float | None = Field(None, description="Last compared value that was not null")
    last_observed_at: AwareDatetime | None = Field(None, description="Time of the last observation used")
    last_denominator: int | None = Field(None, description="Denominator at the last observation")
    last_rank: int | None = Field(None, description="Rank at the last observation")
    last_rank_of: int | None = Field(None, description="Units of the level at the last observation")
    pending_value: float | None = Field(None, description="Value when the episode went pending")
    fired_value: float | None = Field(None, description="Value when it fired")
    resolved_value: float | None = Field(None, description="Value when it resolved")
    sequence: int = Field(0, ge=0, description="Notifications issued in the current episode")
    firing_delivered: bool = Field(False, description="Receivers were told that this episode is firing")
    samples: tuple[GrowthSample, ...] = Field((), description="Growth rules: recent raw counter samples")
    items: tuple[NearDueDossier, ...] = Field((), description="Near-due rule: listed dossiers (≤ max_listed)")
    item_count: int = Field(0, ge=0, description="Near-due rule: dossiers in the full list")
    items_key: str | None = Field(None, description="Hash of the full near-due list last observed")
    notified_items_key: str | None = Field(None, description="Hash of the list last notified")
    forecast_current: float | None = Field(None, description="Forecast rule: today's figure of the target")
    forecast_due: int | None = Field(None, description="Forecast rule: open dossiers due before the month's end")
    forecast_overdue: int | None = Field(None, description="Forecast rule: open dossiers already overdue")

    @classmethod
    def new(cls, rule_id: str, unit_id: str) -> AlertState:
        return cls(rule_id=rule_id, unit_id=unit_id)

    @property
    def is_acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertState:
        return cls.model_validate(data)


class Transition(BaseModel):
    """A history record: every state change, whether notified or muted by a silence."""

    model_config = ConfigDict(frozen=True)

    rule_id: str = Field(description="Rule")
    unit_id: str = Field(description="Unit")
    from_state: AlertStatus = Field(description="State before")
    to_state: AlertStatus = Field(description="State after")
    at: AwareDatetime = Field(description="When it happened (observation or due time, not the run time)")
    value: float | None = Field(None, description="Compared value at that moment")
    reason: TransitionReason = Field(description="Why")
    silenced_by: list[str] = Field(default_factory=list, description="Silences muting the alert at that moment")
    actor: str | None = Field(None, description="Who acted (acknowledgements)")
    comment: str | None = Field(None, description="Why, in words (Vietnamese / English) when the system acted")
