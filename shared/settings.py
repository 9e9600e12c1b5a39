"""Settings every service shares. Each service has ONE settings class that extends this one."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, create_model, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that people copy from examples and forget to change; a service refuses to start with them.
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "secret", "password", "admin", "token", "xxx", "todo", "example", "test"}
)
MIN_SECRET_LENGTH = 24


def check_secret(value: str, name: str) -> str:
    if not value.strip():
        raise ValueError(f"{name} is not set; set a real random value (e.g. `openssl rand -hex 32`)")
    if value.strip().lower() in PLACEHOLDER_SECRETS or value.startswith("<"):
        raise ValueError(f"{name} is a placeholder; set a real random value (e.g. `openssl rand -hex 32`)")
    if len(value) < MIN_SECRET_LENGTH:
        raise ValueError(f"{name} is too short: at least {MIN_SECRET_LENGTH} characters")
    return value


class ServiceSettings(BaseSettings):
    """Read from environment variables (names as in SPEC §0 and docker-compose.yml); bad values fail at start."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: Annotated[str, Field(description="PostgreSQL DSN, e.g. postgresql://user:pass@127.0.0.1:5432/tthc")]
    kafka_bootstrap_servers: Annotated[
        str, Field(description="Comma-separated Kafka bootstrap servers, e.g. 127.0.0.1:9092")
    ] = "127.0.0.1:9092"
    bind_host: Annotated[str, Field(description="Interface the HTTP server listens on")] = "127.0.0.1"
    log_level: Annotated[str, Field(description="Python logging level")] = "INFO"
    db_pool_max: Annotated[int, Field(ge=1, le=200, description="Maximum PostgreSQL connections")] = 10
    stack_id: Annotated[
        str,
        Field(
            pattern=r"^[A-Za-z0-9._-]{1,64}$",
            description="Identity of the stack (cluster) this process belongs to, reported by /healthz; a service "
            "refuses a peer (SCORING_URL, ALERTS_PUBLIC_URL) that reports another. Same value for every service of "
            "one stack; the local stack generates one per run",
        ),
    ] = "local"

    @field_validator("database_url")
    @classmethod
    def _dsn_is_postgres(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("DATABASE_URL must start with postgresql:// or postgres://")
        return value

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap_has_port(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"KAFKA_BOOTSTRAP_SERVERS entry {server!r} is not host:port")
        return value

    @field_validator("stack_id")
    @classmethod
    def _real_stack_id(cls, value: str) -> str:
        if value.lower() in PLACEHOLDER_SECRETS:
            raise ValueError(f"STACK_ID {value!r} is a placeholder; name the stack (e.g. hanoi-prod)")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()


class AdminSettingsMixin(BaseSettings):
    """For services with admin endpoints: the operator's token (SPEC §0), required and never a placeholder."""

    admin_token: Annotated[str, Field(description="Operator's admin bearer token (random, ≥ 24 chars)")]

    @field_validator("admin_token")
    @classmethod
    def _real_token(cls, value: str) -> str:
        return check_secret(value, "ADMIN_TOKEN")


def retry_after_settings(outage: str) -> type[BaseSettings]:
    """A settings mixin with RETRY_AFTER_S, the Retry-After (s) of the 503 a service answers while `outage` is down.

    A factory rather than a plain mixin so that each service's description still names what it depends on.
    """
    seconds = Annotated[int, Field(ge=1, le=3600, description=f"Retry-After (s) sent with a 503 when {outage} is down")]
    return create_model("RetryAfterSettings", __base__=BaseSettings, retry_after_s=(seconds, 5))


def seconds_setting(default: float, description: str, *, le: float | None = None, ge: float | None = None) -> Any:
    """A duration (s) setting: a float above 0, or at least `ge` where 0 or a floor is meaningful, at most `le`.

    The intervals, timeouts and TTLs of the three services are all declared this way, so each states only its bounds.
    """
    return Field(default, **({"gt": 0} if ge is None else {"ge": ge}), le=le, description=description)
