from __future__ import annotations

import json
from datetime import UTC, datetime

from services.alerts.domain.webhook import (
    ZERO_TIME,
    build_webhook_payload,
    encode_payload,
    fingerprint,
    group_key,
    rfc3339,
)
from tests.unit.alerts.factories import notification

URL = "https://pulse.hanoi.example/dashboard/"


def test_fingerprint_matches_prometheus_model() -> None:
    # Vectors from prometheus/common model tests (labelSetToFingerprint) — same as Alertmanager's.
    assert fingerprint({}) == "cbf29ce484222325"
    assert fingerprint({"name": "garland, briggs", "fear": "love is not enough"}) == f"{5799056148416392346:016x}"
    assert fingerprint({"a": "b", "c": "d"}) == fingerprint({"c": "d", "a": "b"})
    assert fingerprint({"unit_id": "Quận"}) != fingerprint({"unit_id": "Quan"})


def test_v4_body_fields_for_a_firing_group() -> None:
    alerts = [notification("quan-ba-dinh", "online-payment-low"), notification("quan-ba-dinh", "satisfaction-low")]
    body = build_webhook_payload("ops-webhook", {"unit_id": "quan-ba-dinh"}, alerts, URL)
    assert body["version"] == "4"
    assert body["status"] == "firing"
    assert body["receiver"] == "ops-webhook"
    assert body["groupKey"] == '{}/{receiver="ops-webhook"}:{unit_id="quan-ba-dinh"}'
    assert body["truncatedAlerts"] == 0
    assert body["groupLabels"] == {"unit_id": "quan-ba-dinh"}
    assert body["commonLabels"] == {"level": "district", "severity": "warning", "unit_id": "quan-ba-dinh"}
    assert body["commonAnnotations"]["unit_name"] == "Quận Ba Đình"
    assert body["externalURL"] == f"{URL}#/unit/quan-ba-dinh"  # the group's unit page on the dashboard
    first = body["alerts"][0]
    assert set(first) == {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}
    assert first["status"] == "firing"
    assert first["labels"]["alertname"] == "online-payment-low"
    assert first["labels"]["unit_id"] == "quan-ba-dinh"
    assert first["labels"]["severity"] == "warning"
    assert first["annotations"]["summary"] == "Quận Ba Đình: thanh toán trực tuyến 50,0 %"
    assert first["startsAt"] == "2024-07-15T01:00:00Z"
    assert first["endsAt"] == ZERO_TIME == "0001-01-01T00:00:00Z"
    assert first["generatorURL"] == f"{URL}#/unit/quan-ba-dinh?alert=online-payment-low"  # the alert, highlighted
    assert first["fingerprint"] == fingerprint(first["labels"])


def test_resolved_group_has_ends_at_and_resolved_status() -> None:
    body = build_webhook_payload("r", {}, [notification(status="resolved")], URL)
    assert body["status"] == "resolved"
    assert body["alerts"][0]["endsAt"] == "2024-07-15T03:00:00Z"
    mixed = build_webhook_payload("r", {}, [notification(status="resolved"), notification("quan-tay-ho")], URL)
    assert mixed["status"] == "firing"
    assert [a["status"] for a in mixed["alerts"]] == ["firing", "resolved"]
    assert "unit_id" not in mixed["commonLabels"]


def test_truncation_keeps_firing_alerts_and_counts_the_rest() -> None:
    alerts = [notification(f"xa-{i:02d}") for i in range(5)] + [notification("xa-99", status="resolved")]
    body = build_webhook_payload("r", {}, alerts, URL, max_alerts=3)
    assert body["truncatedAlerts"] == 3
    assert [a["labels"]["unit_id"] for a in body["alerts"]] == ["xa-00", "xa-01", "xa-02"]


def test_encoding_is_compact_utf8_and_deterministic() -> None:
    body = build_webhook_payload("r", {"unit_id": "quan-ba-dinh"}, [notification()], URL)
    raw = encode_payload(body)
    assert raw == encode_payload(json.loads(raw))
    assert "Quận Ba Đình".encode() in raw
    assert raw.startswith(b'{"version":"4","groupKey":')


def test_rfc3339_and_group_key_helpers() -> None:
    assert rfc3339(datetime(2024, 8, 2, 10, 0, 0, 120000, tzinfo=UTC)) == "2024-08-02T10:00:00.12Z"
    assert group_key("r", {"b": "2", "a": 'x"y'}) == '{}/{receiver="r"}:{a="x\\"y", b="2"}'
