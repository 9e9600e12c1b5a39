"""The alerts service's one settings class (environment variables; bad or placeholder values fail at start)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, HttpUrl, SecretStr, field_validator

from services.alerts.adapters.receiver_secrets import parse_keys
from shared.kafka import UNIT_INDICATORS
from shared.settings import AdminSettingsMixin, ServiceSettings, retry_after_settings, seconds_setting

REPO_ROOT = Path(__file__).resolve().parents[2]


class AlertsSettings(ServiceSettings, AdminSettingsMixin, retry_after_settings("the database")):
    alerts_port: Annotated[int, Field(ge=1, le=65535, description="HTTP port (SPEC §0)")] = 8003
    scoring_url: Annotated[
        HttpUrl,
        Field(
            description="Base URL of THIS stack's scoring API (near-due lists, forecasts, to-do lists); its /healthz "
            "identity must be scoring of the same STACK_ID, else it is refused. The local stack derives it from "
            "SCORING_PORT"
        ),
    ] = HttpUrl("http://127.0.0.1:8002")
    alert_rules_file: Annotated[Path, Field(description="Rules loaded at start (docs/alerts.md §2)")] = (
        REPO_ROOT / "config" / "alert_rules.yaml"
    )
    receivers_file: Annotated[
        Path | None, Field(description="Webhook and e-mail receivers (docs/alerts.md §5); unset = none")
    ] = REPO_ROOT / "config" / "receivers.yaml"
    dashboard_public_url: Annotated[
        HttpUrl,
        Field(description="Public URL of the dashboard: generatorURL/externalURL and e-mail links open its pages"),
    ] = HttpUrl("http://127.0.0.1:8002/dashboard/")
    receivers_secret_key: Annotated[
        SecretStr | None,
        Field(
            description="Fernet key(s), comma-separated (first encrypts), for secrets of receivers managed through "
            "the API; unset = such secrets cannot be stored, and the service refuses to start if some are"
        ),
    ] = None
    receivers_poll_interval_s: float = seconds_setting(
        2.0, "How often receivers managed through the API are re-read", le=300
    )
    indicators_topic: Annotated[str, Field(min_length=1, description="Topic of UnitIndicators messages")] = (
        UNIT_INDICATORS
    )
    consumer_group: Annotated[str, Field(min_length=1, description="Kafka consumer group of the evaluator")] = (
        "tthc-alerts"
    )
    indicators_offset_reset: Annotated[
        Literal["earliest", "latest"], Field(description="Where a NEW consumer group starts reading")
    ] = "earliest"
    indicators_max_age_s: float = seconds_setting(
        6 * 3600, "Messages older than this (computed_at) are skipped, e.g. on a replay"
    )
    tick_interval_s: float = seconds_setting(10.0, "Clock-driven evaluation: pending→firing, repeats, silences", le=300)
    near_due_interval_s: float = seconds_setting(60.0, "How often near-due lists are fetched from scoring", le=3600)
    forecast_interval_s: float = seconds_setting(
        300.0, "How often the month-end forecasts of the levels forecast rules watch are fetched from scoring", le=3600
    )
    todo_digest_at: Annotated[
        str,
        Field(
            pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
            description="Local time (HH:MM, TODO_DIGEST_TIMEZONE) from which each unit's morning to-do e-mail is sent",
        ),
    ] = "07:00"
    todo_digest_timezone: Annotated[
        str, Field(min_length=1, description="IANA time zone of TODO_DIGEST_AT and of the digest's day")
    ] = "Asia/Ho_Chi_Minh"
    todo_digest_window_s: float = seconds_setting(
        4 * 3600, "A digest not sent by TODO_DIGEST_AT + this (service down) is skipped for the day", le=86400
    )
    todo_digest_interval_s: float = seconds_setting(
        60.0, "How often the morning digest checks whether it is due", le=3600
    )
    todo_digest_max_items: Annotated[
        int, Field(ge=1, le=500, description="Dossiers listed in one morning digest; the rest are counted")
    ] = 20
    scoring_check_interval_s: float = seconds_setting(
        10.0, "How often scoring's /healthz is asked (reachability, /readyz)", le=600
    )
    sender_interval_s: float = seconds_setting(1.0, "How often the outbox is looked at", le=60)
    outbox_retention_days: Annotated[
        float,
        Field(ge=1, le=3650, description="Delivered or given-up group messages are purged after this many days"),
    ] = 30.0
    outbox_retention_interval_s: float = seconds_setting(3600.0, "How often the outbox retention pass runs", le=86400)
    receivers_check_interval_s: float = seconds_setting(
        5.0, "How often RECEIVERS_FILE is checked for changes (its mtime)", le=60
    )
    cors_origins: Annotated[
        str,
        Field(
            description="Comma-separated origins whose pages may read alerts (GET, SSE): the dashboard's (scoring's "
            "public URLs); the local stack derives them from SCORING_PORT, SCORING_2_PORT and SCORING_3_PORT"
        ),
    ] = "http://127.0.0.1:8002,http://localhost:8002"

    @field_validator("todo_digest_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Ho_Chi_Minh)") from None
        return value

    @field_validator("receivers_secret_key", mode="before")
    @classmethod
    def _fernet_keys(cls, value: object) -> object:
        """Unset or blank = no key (checked at start against the stored receivers); otherwise every key must be a
        real Fernet key, never a placeholder."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        parse_keys(str(raw))
        return raw
