"""Receivers file (`config/receivers.yaml`): where notifications go, checked at start and at every reload
(adapters/receivers_reload.py reads the file; this module only parses and routes, no I/O).

Secrets are never in the file: a webhook names the environment variable holding its HMAC secret, and an unset,
short or placeholder secret stops the service at start (not at 3 a.m. when the first alert fires).

Receivers managed through the admin API (adapters/receiver_store.py) use the same models; they live in PostgreSQL
with their secret encrypted, and join the file's receivers in `Receivers.api` (a file receiver wins a name clash).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator

from services.alerts.domain.backoff import RetryPolicy
from services.alerts.domain.grouping import GroupingPolicy
from services.alerts.domain.notifications import Notification
from services.alerts.domain.rules import Duration
from services.alerts.domain.silences import Matcher
from shared.indicators import UnitId
from shared.settings import check_secret

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


class Grouping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    group_by: tuple[str, ...] = Field(("unit_id",), description="Labels forming a group; ['...'] = every alert alone")
    group_wait: Duration = Field(timedelta(seconds=30), description="Wait for a new group to fill")
    group_interval: Duration = Field(timedelta(minutes=5), description="Minimum gap between messages of a group")
    max_alerts: int = Field(0, ge=0, description="Alerts per message, 0 = unlimited")


class _ReceiverBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$", description="Receiver name")
    matchers: list[Matcher] = Field(
        default_factory=list, description="Route: all must match (silence syntax, incl. subtree); empty = every alert"
    )
    grouping: Grouping = Field(default_factory=Grouping, description="Alertmanager-style grouping")
    retry: RetryPolicy = Field(default_factory=RetryPolicy, description="Backoff of failed deliveries")


_ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"


def _secret_env(description: str) -> Any:
    """The name of the environment variable holding an HTTP receiver's secret (never the secret itself)."""
    return Field(None, pattern=_ENV_NAME, description=description)


def _timeout() -> Any:
    return Field(timedelta(seconds=10), description="Whole-request timeout")


class WebhookReceiver(_ReceiverBase):
    type: Literal["webhook"] = Field(description="Alertmanager v4 JSON over HTTP POST")
    url: HttpUrl = Field(description="Endpoint receiving the POST")
    secret_env: str | None = _secret_env("Environment variable with the HMAC secret (required in the file)")
    timeout: Duration = _timeout()


class AlertmanagerReceiver(_ReceiverBase):
    type: Literal["alertmanager"] = Field(description="Postable alerts to an Alertmanager's /api/v2/alerts")
    url: HttpUrl = Field(description="Alertmanager base URL, e.g. http://alertmanager:9093 (/api/v2/alerts added)")
    secret_env: str | None = _secret_env("Environment variable with a bearer token (optional, e.g. behind a proxy)")
    timeout: Duration = _timeout()
    firing_ttl: Duration = Field(
        timedelta(hours=24), description="endsAt of a firing alert = notification time + this (Alertmanager "
        "resolves it then unless a repeat or the resolution comes first)",
    )  # fmt: skip


class EmailReceiver(_ReceiverBase):
    type: Literal["email"] = Field(description="Plain-text e-mail through the SMTP server of the file")
    recipients: dict[UnitId, list[str]] = Field(
        description="Per unit: addresses that receive the alerts of that unit and of every unit below it"
    )

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        bad = sorted({a for addresses in value.values() for a in addresses if not _EMAIL.match(a)})
        if bad:
            raise ValueError(f"not e-mail addresses: {', '.join(bad)}")
        return value


class SmtpServer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    host: str = Field(min_length=1, description="SMTP server host")
    port: int = Field(25, ge=1, le=65535, description="SMTP port (25, 587 with STARTTLS, 465 with TLS)")
    sender: str = Field(alias="from", min_length=3, description="From address, e.g. 'TTHC Pulse <canhbao@…>'")
    security: Literal["none", "starttls", "tls"] = Field("none", description="Transport security")
    username: str | None = Field(None, description="Login name, if the server needs one")
    password_env: str | None = Field(None, description="Environment variable holding the password")
    timeout: Duration = Field(timedelta(seconds=30), description="Per-command timeout")


AnyReceiver = WebhookReceiver | EmailReceiver | AlertmanagerReceiver
Receiver = Annotated[AnyReceiver, Field(discriminator="type")]
ApiReceiver = Annotated[WebhookReceiver | AlertmanagerReceiver, Field(discriminator="type")]


class ReceiversDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = Field(1, description="File format version")
    smtp: SmtpServer | None = Field(None, description="Needed when any e-mail receiver exists")
    receivers: list[Receiver] = Field(default_factory=list, description="Webhook, Alertmanager and e-mail receivers")


class ReceiversConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Receivers:
    """The validated file plus the secrets read from the environment, and the receivers of the admin API."""

    document: ReceiversDocument = field(default_factory=ReceiversDocument)
    secrets: Mapping[str, str] = field(default_factory=dict)
    smtp_password: str | None = None
    api: Sequence[WebhookReceiver | AlertmanagerReceiver] = ()
    api_secrets: Mapping[str, str] = field(default_factory=dict)

    @property
    def file_names(self) -> frozenset[str]:
        return frozenset(r.name for r in self.document.receivers)

    @property
    def all(self) -> Sequence[AnyReceiver]:
        taken = self.file_names
        return [*self.document.receivers, *(r for r in self.api if r.name not in taken)]

    def by_name(self, name: str) -> AnyReceiver | None:
        return next((r for r in self.all if r.name == name), None)

    def source_of(self, name: str) -> Literal["file", "api"]:
        return "file" if name in self.file_names else "api"

    def secret_of(self, name: str) -> str | None:
        """The HMAC secret (webhook) or bearer token (Alertmanager) of the receiver in force under that name."""
        return self.secrets.get(name) if name in self.file_names else self.api_secrets.get(name)

    def with_api(
        self, api: Sequence[WebhookReceiver | AlertmanagerReceiver], api_secrets: Mapping[str, str]
    ) -> Receivers:
        return replace(self, api=tuple(api), api_secrets=dict(api_secrets))

    def grouping_policy(self, receiver: AnyReceiver) -> GroupingPolicy:
        g = receiver.grouping
        return GroupingPolicy(
            receiver=receiver.name,
            group_by=g.group_by,
            group_wait=g.group_wait,
            group_interval=g.group_interval,
            max_alerts=g.max_alerts,
        )


def email_recipients(receiver: EmailReceiver, subtree: Sequence[str]) -> list[str]:
    """Addresses of the unit and of its ancestors, each once, in a stable order."""
    found: list[str] = []
    for unit_id in subtree:
        for address in receiver.recipients.get(unit_id, []):
            if address not in found:
                found.append(address)
    return found


def routes_for(receivers: Receivers, notification: Notification, subtree: Sequence[str]) -> list[str]:
    """Receivers a notification goes to: matchers match, and an e-mail receiver has someone to write to."""
    subtree_ids = frozenset(subtree)
    names: list[str] = []
    for receiver in receivers.all:
        if not all(m.matches(notification.labels, subtree_ids) for m in receiver.matchers):
            continue
        if isinstance(receiver, EmailReceiver) and not email_recipients(receiver, subtree):
            continue
        names.append(receiver.name)
    return names


def parse_receivers(text: str, environ: Mapping[str, str], source: str = "<receivers>") -> Receivers:
    """Validate the document and resolve its secrets; every problem is reported at once."""
    try:
        raw: Any = yaml.safe_load(text) or {}
        document = ReceiversDocument.model_validate(raw)
    except yaml.YAMLError as error:
        raise ReceiversConfigError(f"{source}: not valid YAML: {error}") from None
    except ValidationError as error:
        lines = [f"  - {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]
        raise ReceiversConfigError(f"{source}: invalid receivers\n" + "\n".join(lines)) from None
    problems: list[str] = []
    names = [r.name for r in document.receivers]
    problems.extend(f"receiver name {n!r} is used twice" for n in sorted({n for n in names if names.count(n) > 1}))
    secrets: dict[str, str] = {}
    for receiver in document.receivers:
        if isinstance(receiver, WebhookReceiver | AlertmanagerReceiver):
            if receiver.secret_env is None:
                if isinstance(receiver, WebhookReceiver):
                    problems.append(f"receiver {receiver.name}: a webhook needs `secret_env` (its HMAC secret)")
                continue
            try:
                secrets[receiver.name] = check_secret(environ.get(receiver.secret_env, ""), receiver.secret_env)
            except ValueError as error:
                problems.append(f"receiver {receiver.name}: {error}")
        elif document.smtp is None:
            problems.append(f"receiver {receiver.name}: e-mail receivers need an `smtp` section")
    password: str | None = None
    if document.smtp is not None and document.smtp.password_env is not None:
        password = environ.get(document.smtp.password_env) or None
        if password is None:
            problems.append(f"smtp: environment variable {document.smtp.password_env} is not set")
    if problems:
        raise ReceiversConfigError(f"{source}: invalid receivers\n" + "\n".join(f"  - {p}" for p in problems))
    return Receivers(document=document, secrets=secrets, smtp_password=password)
