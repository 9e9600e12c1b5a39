"""HTTP bodies of the alerts API (documented in OpenAPI through the Field descriptions)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from services.alerts.domain.silences import Matcher
from shared.indicators import NearDueDossier

AlertStatus = Literal["inactive", "pending", "firing", "resolved"]


class AlertView(BaseModel):
    id: int = Field(description="Alert id (one per rule × unit, stable across episodes)")
    rule_id: str = Field(description="Rule, also the alertname label")
    rule_name: str | None = Field(description="Rule name (null when the rule no longer exists)")
    rule_exists: bool = Field(description="False when the active rule set no longer has this rule")
    severity: str | None = Field(description="info, warning or critical")
    unit_id: str = Field(description="Unit")
    unit_name: str = Field(description="Unit name at the last observation")
    level: str = Field(description="Unit level")
    state: AlertStatus = Field(description="inactive, pending, firing or resolved")
    value: float | None = Field(description="Last compared value (rates are fractions)")
    last_observed_at: AwareDatetime | None = Field(description="Time of the last observation used")
    active_since: AwareDatetime | None = Field(description="Start of the current/last episode (first pending)")
    pending_since: AwareDatetime | None = Field(description="While pending: since when the condition holds")
    fired_at: AwareDatetime | None = Field(description="When the current/last episode fired")
    resolved_at: AwareDatetime | None = Field(description="When the last episode resolved")
    acknowledged_at: AwareDatetime | None = Field(description="Acknowledgement of the current episode")
    acknowledged_by: str | None = Field(description="Who acknowledged")
    last_notified_at: AwareDatetime | None = Field(description="Last notification put in the outbox")
    silenced_by: list[str] = Field(description="Silences muting this alert now")
    labels: dict[str, str] = Field(description="Alert labels (alertname, unit_id, severity, level, rule labels)")
    fingerprint: str | None = Field(description="Alertmanager fingerprint of the labels")
    annotations: dict[str, str] = Field(description="Rendered summary/description (vi, and en when available)")
    dossier_count: int = Field(description="Near-due rule: dossiers in the list")
    dossiers: list[NearDueDossier] = Field(description="Near-due rule: listed dossiers")
    updated_at: AwareDatetime = Field(description="Last write of this alert")


class TransitionView(BaseModel):
    seq: int = Field(description="Monotonic history id (also the server-sent event id)")
    alert_id: int = Field(description="Alert")
    rule_id: str = Field(description="Rule")
    unit_id: str = Field(description="Unit")
    unit_name: str | None = Field(description="Unit name")
    severity: str | None = Field(description="Severity of the rule (null if removed)")
    from_state: AlertStatus = Field(description="State before")
    to_state: AlertStatus = Field(description="State after (equal for acknowledgements)")
    at: AwareDatetime = Field(description="When it happened (event time)")
    value: float | None = Field(description="Compared value at that moment")
    reason: str = Field(
        description="condition_met, for_elapsed, condition_cleared, no_data, acknowledged, rule_removed or "
        "rule_disabled"
    )
    silenced_by: list[str] = Field(description="Silences muting the alert at that moment")
    actor: str | None = Field(description="Who acted (acknowledgements)")
    comment: str | None = Field(
        description="Comment given with an acknowledgement, or why the system closed the alert (vi / en)"
    )
    recorded_at: AwareDatetime = Field(description="When it was written")


class AlertDetail(AlertView):
    history: list[TransitionView] = Field(description="Transitions of this alert, oldest first (≤ 500)")


class AlertList(BaseModel):
    items: list[AlertView] = Field(description="Alerts, most recently updated first")


class TransitionList(BaseModel):
    items: list[TransitionView] = Field(description="Transitions, oldest first")
    next_after: int = Field(description="Pass as `after` to continue")


class AckRequest(BaseModel):
    by: str = Field(min_length=1, max_length=200, description="Who acknowledges (name or account)")
    comment: str | None = Field(None, max_length=1000, description="Optional note, kept in the history")


class SilenceRequest(BaseModel):
    matchers: list[Matcher] = Field(min_length=1, description="All must match: label matchers or `subtree`")
    starts_at: AwareDatetime | None = Field(None, description="Start (RFC 3339); default now")
    ends_at: AwareDatetime = Field(description="Expiry (RFC 3339)")
    comment: str = Field(min_length=1, max_length=1000, description="Why (mandatory)")
    author: str = Field(min_length=1, max_length=200, description="Who creates it")


class SilenceView(BaseModel):
    id: str = Field(description="Silence id")
    matchers: list[Matcher] = Field(description="Matchers")
    starts_at: AwareDatetime = Field(description="Start")
    ends_at: AwareDatetime = Field(description="Expiry")
    comment: str = Field(description="Why")
    author: str = Field(description="Who created it")
    created_at: AwareDatetime = Field(description="When it was created")
    expired_at: AwareDatetime | None = Field(description="When it was expired through the API")
    status: Literal["pending", "active", "expired"] = Field(description="Relative to now")


class SilenceList(BaseModel):
    items: list[SilenceView] = Field(description="Silences, newest start first")


class RuleSetView(BaseModel):
    rule_set_id: int = Field(description="Version of the rule set")
    source: Literal["file", "api"] = Field(description="Where the active set came from")
    origin: str = Field(description="File path, or 'admin API'")
    activated_at: AwareDatetime = Field(description="When it became active")
    rules: list[dict[str, Any]] = Field(description="The rules, in the file syntax (docs/alerts.md §2)")


class RuleProblemView(BaseModel):
    path: str = Field(description="Where in the document, e.g. rules[3].clear_threshold")
    message: str = Field(description="What is wrong")


class RuleErrorBody(BaseModel):
    error: str = Field(description="invalid_rules")
    detail: str = Field(description="Summary, Vietnamese first then English")
    problems: list[RuleProblemView] = Field(description="Every problem found, each with its path")
