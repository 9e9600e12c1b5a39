from __future__ import annotations

from services.alerts.domain.grouping import GroupingPolicy, plan_groups
from services.alerts.domain.mail import render_email
from tests.unit.alerts.factories import T0, minutes, notification

POLICY = GroupingPolicy(receiver="email-ba-dinh", group_wait="0s")


def test_email_has_vietnamese_subject_and_body_with_english_below() -> None:
    waiting = [
        notification(rule_id="satisfaction-low", severity="critical", summary="Quận Ba Đình: hài lòng 80,0 %"),
        notification(rule_id="online-payment-low"),
        notification(rule_id="online-dossiers-low", status="resolved", summary="Quận Ba Đình: hồ sơ trực tuyến"),
    ]
    group = plan_groups(POLICY, waiting, {}, T0 + minutes(1)).due[0]
    mail = render_email(group, "https://pulse.example/")
    assert mail.subject == ("[TTHC Pulse] [NGHIÊM TRỌNG] 2 cảnh báo đang kích hoạt, 1 cảnh báo đã hết — Quận Ba Đình")
    vietnamese, english = mail.body.split("— English —")
    assert vietnamese.index("[MỚI] [nghiêm trọng] Quận Ba Đình: hài lòng 80,0 %") < vietnamese.index(
        "[MỚI] [cảnh báo] Quận Ba Đình: thanh toán trực tuyến 50,0 %"
    )
    assert "[ĐÃ HẾT] [cảnh báo] Quận Ba Đình: hồ sơ trực tuyến" in vietnamese
    assert "Bắt đầu: 08:00 15/07/2024" in vietnamese
    assert "Kết thúc: 10:00 15/07/2024" in vietnamese
    assert "https://pulse.example/#/unit/quan-ba-dinh" in vietnamese  # the unit page of the dashboard
    assert "[NEW] [warning] Quận Ba Đình: online payments 50.0%" in english
    assert "Started: 2024-07-15 08:00 (UTC+7)" in english


def test_email_for_several_units_names_the_count() -> None:
    waiting = [notification("quan-ba-dinh"), notification("quan-tay-ho", unit_name="Quận Tây Hồ")]
    group = plan_groups(GroupingPolicy(receiver="city", group_by=(), group_wait="0s"), waiting, {}, T0).due[0]
    assert render_email(group, "https://pulse.example").subject.endswith("— 2 đơn vị")
