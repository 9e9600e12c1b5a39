"""Receivers managed through the API, without a database: links, postable alerts, secrets at rest, merging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from services.alerts.adapters.receiver_secrets import SecretBox, SecretKeyError, parse_keys
from services.alerts.adapters.receiver_store import ApiReceiversFollower, decode_rows, receiver_of, spec_json
from services.alerts.domain.alertmanager import alerts_endpoint, postable_alerts
from services.alerts.domain.links import alert_url, message_url, unit_url
from services.alerts.domain.receivers import AlertmanagerReceiver, WebhookReceiver, parse_receivers
from services.alerts.settings import AlertsSettings
from shared.settings import check_secret
from tests.unit.alerts.factories import notification

DASH = "http://127.0.0.1:8002/dashboard/"
SECRET = "s" * 32


def test_links_open_the_dashboard_unit_page_and_the_alert() -> None:
    assert unit_url(DASH, "quan-ba-dinh") == "http://127.0.0.1:8002/dashboard/#/unit/quan-ba-dinh"
    assert alert_url(DASH, "quan ba/dinh", "pay-low") == f"{DASH}#/unit/quan%20ba%2Fdinh?alert=pay-low"
    assert message_url(DASH, {"unit_id": "ha-noi"}) == f"{DASH}#/unit/ha-noi"
    assert message_url(DASH + "#/old", {"severity": "warning"}) == f"{DASH}#/"  # no single unit: the overview


def test_postable_alerts_have_the_alertmanager_fields_and_one_entry_per_alert() -> None:
    firing = notification("quan-ba-dinh", "online-payment-low")
    alerts = postable_alerts([firing, notification("quan-tay-ho", status="resolved")], DASH, timedelta(hours=24))
    assert [set(a) for a in alerts] == [{"labels", "annotations", "startsAt", "endsAt", "generatorURL"}] * 2
    first, second = alerts
    assert first["labels"]["alertname"] == "online-payment-low"
    assert first["endsAt"] == "2024-07-16T01:00:00Z"  # created_at + firing_ttl
    assert first["generatorURL"] == f"{DASH}#/unit/quan-ba-dinh?alert=online-payment-low"
    assert second["endsAt"] == "2024-07-15T03:00:00Z"  # the real end
    # The same alert twice in one message: the later notification wins.
    later = firing.model_copy(update={"created_at": firing.created_at + timedelta(minutes=5), "sequence": 1})
    assert len(postable_alerts([later, firing], DASH, timedelta(hours=1))) == 1
    assert postable_alerts([later, firing], DASH, timedelta(hours=1))[0]["endsAt"] == "2024-07-15T02:05:00Z"
    assert alerts_endpoint("http://am:9093/") == "http://am:9093/api/v2/alerts"
    assert alerts_endpoint("http://am:9093/api/v2/alerts") == "http://am:9093/api/v2/alerts"


def test_secrets_are_encrypted_and_the_key_can_be_rotated() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = SecretBox(old).encrypt(SECRET)
    assert SECRET.encode() not in token
    assert SecretBox(f"{new},{old}").decrypt(token) == SECRET  # old tokens still read after a key rotation
    with pytest.raises(SecretKeyError, match="cannot be decrypted"):
        SecretBox(new).decrypt(token)
    for bad in ("changeme", "<fernet key>", "not-a-key"):
        with pytest.raises(SecretKeyError, match="RECEIVERS_SECRET_KEY"):
            parse_keys(bad)


def test_settings_refuse_a_placeholder_key_and_treat_blank_as_unset() -> None:
    base = {"database_url": "postgresql://u:p@h/d", "admin_token": "a" * 30}
    assert AlertsSettings(**base, receivers_secret_key="").receivers_secret_key is None
    with pytest.raises(ValidationError, match="placeholder"):
        AlertsSettings(**base, receivers_secret_key="changeme")
    key = Fernet.generate_key().decode()
    assert AlertsSettings(**base, receivers_secret_key=key).receivers_secret_key is not None


def test_an_unset_secret_is_reported_as_unset_not_as_a_placeholder() -> None:
    with pytest.raises(ValueError, match="HOOK is not set"):
        check_secret("", "HOOK")
    text = "receivers: [{name: a, type: webhook, url: 'http://x/', secret_env: HOOK}]"
    with pytest.raises(ValueError, match="HOOK is not set"):
        parse_receivers(text, {})


def _row(receiver: WebhookReceiver | AlertmanagerReceiver, cipher: bytes | None, at: datetime) -> dict[str, object]:
    return {"name": receiver.name, "kind": receiver.type, "spec": spec_json(receiver), "secret_ciphertext": cipher,
            "secret_rotated_at": at, "created_at": at, "updated_at": at}  # fmt: skip


def test_stored_rows_round_trip_and_join_the_file_receivers() -> None:
    key = Fernet.generate_key().decode()
    box = SecretBox(key)
    now = datetime(2024, 7, 15, tzinfo=UTC)
    hook = WebhookReceiver(name="hook", type="webhook", url="http://h/x")  # type: ignore[arg-type]
    am = AlertmanagerReceiver(name="am", type="alertmanager", url="http://am:9093", firing_ttl="2h")  # type: ignore[arg-type]
    rows = [_row(hook, box.encrypt(SECRET), now), _row(am, None, now)]
    assert receiver_of(rows[1]) == am
    loaded = decode_rows(rows, box)
    assert loaded.secrets == {"hook": SECRET}
    with pytest.raises(SecretKeyError, match="not set"):
        decode_rows(rows, None)
    file = parse_receivers(
        "receivers: [{name: hook, type: webhook, url: 'http://file/', secret_env: H}]", {"H": "f" * 30}
    )
    merged = file.with_api(loaded.receivers, loaded.secrets)
    assert [r.name for r in merged.all] == ["hook", "am"]  # the file wins a name clash
    assert str(merged.by_name("hook").url) == "http://file/"  # type: ignore[union-attr]
    assert merged.secret_of("hook") == "f" * 30 and merged.secret_of("am") is None
    assert merged.source_of("am") == "api"


class _Conn:
    def __init__(self, rows: list[dict[str, object]]) -> None:
        self.rows = rows

    async def fetch(self, query: str) -> list[dict[str, object]]:
        return self.rows


async def test_the_follower_reloads_only_on_change() -> None:
    now = datetime(2024, 7, 15, tzinfo=UTC)
    am = AlertmanagerReceiver(name="am", type="alertmanager", url="http://am:9093")  # type: ignore[arg-type]
    conn = _Conn([_row(am, None, now)])
    follower = ApiReceiversFollower(None)
    assert (await follower.load(conn)) is not None  # type: ignore[arg-type]
    assert (await follower.load(conn)) is None  # type: ignore[arg-type]
    conn.rows = [_row(am, None, now + timedelta(seconds=1))]
    assert (await follower.load(conn)) is not None  # type: ignore[arg-type]
    conn.rows = []
    loaded = await follower.load(conn)  # type: ignore[arg-type]
    assert loaded is not None and loaded.receivers == ()
