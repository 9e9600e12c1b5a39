"""HTTP bodies of the receivers API (docs/alerts.md §5b). Secrets go in, never out."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, SecretStr

from services.alerts.domain.backoff import RetryPolicy
from services.alerts.domain.receivers import Grouping
from services.alerts.domain.rules import Duration
from services.alerts.domain.silences import Matcher

NAME_PATTERN = r"^[A-Za-z0-9._-]+$"
SECRET_TEXT = (
    "Write-only. webhook: the HMAC-SHA256 secret (required, ≥ 24 characters, not a placeholder); alertmanager: an "
    "optional bearer token sent as `Authorization: Bearer …`. Stored encrypted with RECEIVERS_SECRET_KEY"
)


class ReceiverCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN, description="Receiver name (unique)")
    type: Literal["webhook", "alertmanager"] = Field(
        description="webhook (Alertmanager v4 JSON, signed) or alertmanager (postable alerts to /api/v2/alerts)"
    )
    url: HttpUrl = Field(description="webhook: the endpoint; alertmanager: its base URL, e.g. http://am:9093")
    secret: SecretStr | None = Field(None, description=SECRET_TEXT)
    matchers: list[Matcher] = Field(default_factory=list, description="Route: all must match; empty = every alert")
    grouping: Grouping | None = Field(None, description="Alertmanager-style grouping (defaults as in the file)")
    retry: RetryPolicy | None = Field(None, description="Backoff of failed deliveries (defaults as in the file)")
    timeout: Duration | None = Field(None, description="Whole-request timeout, e.g. 10s")
    firing_ttl: Duration | None = Field(None, description="alertmanager only: endsAt of a firing alert, e.g. 24h")


class ReceiverUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl | None = Field(None, description="New URL")
    secret: SecretStr | None = Field(None, description="Rotate: the new secret. " + SECRET_TEXT)
    remove_secret: bool = Field(False, description="alertmanager only: stop sending a bearer token")
    matchers: list[Matcher] | None = Field(None, description="New route matchers (replace the old ones)")
    grouping: Grouping | None = Field(None, description="New grouping")
    retry: RetryPolicy | None = Field(None, description="New backoff")
    timeout: Duration | None = Field(None, description="New whole-request timeout")
    firing_ttl: Duration | None = Field(None, description="alertmanager only: new firing TTL")


class ReceiverView(BaseModel):
    name: str = Field(description="Receiver name")
    type: Literal["webhook", "alertmanager", "email"] = Field(description="Kind of receiver")
    source: Literal["file", "api"] = Field(
        description="file: config/receivers.yaml (read-only here); api: managed through this API"
    )
    url: str | None = Field(description="Endpoint or Alertmanager base URL (null for e-mail)")
    matchers: list[Matcher] = Field(description="Route matchers")
    grouping: Grouping = Field(description="Grouping")
    retry: RetryPolicy = Field(description="Backoff of failed deliveries")
    timeout: Duration | None = Field(description="Whole-request timeout (null for e-mail)")
    firing_ttl: Duration | None = Field(description="alertmanager: endsAt of firing alerts; null otherwise")
    secret_set: bool = Field(description="A secret (HMAC secret or bearer token) is in force; never shown")
    secret_env: str | None = Field(description="file receivers: the environment variable holding the secret")
    secret_rotated_at: AwareDatetime | None = Field(description="api receivers: when the secret was last set")
    created_at: AwareDatetime | None = Field(description="api receivers: creation time")
    updated_at: AwareDatetime | None = Field(description="api receivers: last change")


class ReceiverList(BaseModel):
    items: list[ReceiverView] = Field(description="File receivers first, then those managed through the API")
