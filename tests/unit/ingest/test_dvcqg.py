"""National-portal snapshots (DongBoHoSoMC) → contract events."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from services.ingest.domain.api_keys import KeyScope, scope_checker
from services.ingest.domain.batch import BatchError, BatchTooLargeError
from services.ingest.domain.dvcqg import snapshots_of, validate_dvcqg
from services.ingest.domain.unit_resolver import UnitResolver
from shared.contract_codec import CheckedEvent, encode_checked, stamp_text
from shared.units import UnitRegistry

VN = timezone(timedelta(hours=7))
NOW = datetime(2024, 8, 2, 3, 0, tzinfo=UTC)
MA = "000.00.25.H26-240705-0007"


def snapshot(status: int | str, **overrides: Any) -> dict[str, Any]:
    """A snapshot shaped like the ones one-stop-shop systems push (values as strings, as they send them)."""
    body: dict[str, Any] = {
        "MaHoSo": MA,
        "MaTTHC": "1.001234.000.00.00.H26",
        "TenTTHC": "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam",
        "ChuHoSo": "Nguyễn Văn An",
        "LoaiDoiTuong": "1",
        "TrichYeuHoSo": "Đề nghị cấp Phiếu lý lịch tư pháp số 1",
        "NgayTiepNhan": "20240705083000",
        "NgayHenTra": "20240719170000",
        "TrangThaiHoSo": str(status),
        "NgayKetThucXuLy": "",
        "NgayTra": "",
        "DonViXuLy": "Sở Tư pháp",
        "KenhThucHien": "2",
        "HoSoCoThanhPhanSoHoa": "0",
        "DuocThanhToanTrucTuyen": "0",
        "TaiLieuNop": [],
        "DanhSachLePhi": [],
        "DanhSachHoSoBoSung": [],
        "DanhSachGiayToKetQua": [],
    }
    body.update(overrides)
    return body


@pytest.fixture
def resolver(registry: UnitRegistry) -> UnitResolver:
    return UnitResolver(registry, {"000.00.25.H26": "H26.STP"})


def events_of(body: object, resolver: UnitResolver) -> list[CheckedEvent]:
    result = validate_dvcqg(body, now=NOW, resolver=resolver)
    assert result.rejected == [], result.rejected
    return result.events


def kinds(events: list[CheckedEvent]) -> list[tuple[str, str]]:
    return [(str(e.type), e.event_id) for e in events]


def by_type(events: list[CheckedEvent], event_type: str) -> CheckedEvent:
    (found,) = [e for e in events if e.type == event_type]
    return found


def test_received_snapshot(resolver: UnitResolver) -> None:
    (event,) = events_of(snapshot(2), resolver)
    assert event.event_id == f"dvcqg:{MA}:received" and event.dossier_id == MA and event.unit_id == "H26.STP"
    assert event.occurred_at == datetime(2024, 7, 5, 8, 30, tzinfo=VN)
    assert event.due_at == datetime(2024, 7, 19, 17, 0, tzinfo=VN)
    assert (event.channel, event.digitized, event.reused_data) == ("online", False, False)
    assert event.procedure_id == "1.001234.000.00.00.H26" and event.extras == {"source": "dvcqg"}


@pytest.mark.parametrize("status", [1, 3, 4])
def test_statuses_without_an_event_of_their_own(status: int, resolver: UnitResolver) -> None:
    assert [e.type for e in events_of(snapshot(status), resolver)] == ["received"]


def test_submitted_but_not_yet_received_yields_nothing(resolver: UnitResolver) -> None:
    assert events_of(snapshot(1, NgayTiepNhan="", NgayHenTra=""), resolver) == []


def test_status_5_uses_the_open_supplement_request(resolver: UnitResolver) -> None:
    supplements = [{"HoSoBoSungId": 11, "NgayBoSung": "20240708100000", "NgayHenTraTruoc": "20240719170000"}]
    events = events_of(snapshot(5, DanhSachHoSoBoSung=supplements), resolver)
    assert kinds(events) == [
        ("received", f"dvcqg:{MA}:received"),
        ("supplement_requested", f"dvcqg:{MA}:supplement_requested:20240708100000"),
    ]


def test_status_5_without_a_list_reads_the_request_time_from_ngay_ket_thuc(resolver: UnitResolver) -> None:
    events = events_of(snapshot(5, NgayKetThucXuLy="20240708100000"), resolver)
    # Same id as when the list names the request: later, fuller snapshots do not duplicate it.
    assert by_type(events, "supplement_requested").event_id == f"dvcqg:{MA}:supplement_requested:20240708100000"


def test_status_6_is_a_pause(resolver: UnitResolver) -> None:
    paused = by_type(events_of(snapshot(6, NgayKetThucXuLy="20240709140000"), resolver), "paused")
    assert paused.occurred_at == datetime(2024, 7, 9, 14, 0, tzinfo=VN)
    assert paused.event_id == f"dvcqg:{MA}:paused:20240709140000"


def test_status_7_is_a_withdrawal(resolver: UnitResolver) -> None:
    withdrawn = by_type(events_of(snapshot(7, NgayKetThucXuLy="20240710090000"), resolver), "withdrawn")
    assert withdrawn.event_id == f"dvcqg:{MA}:withdrawn"


def test_status_8_stopped_is_a_refusal(resolver: UnitResolver) -> None:
    resolved = by_type(events_of(snapshot(8, NgayKetThucXuLy="20240712160000"), resolver), "resolved")
    assert (resolved.outcome, resolved.e_result) == ("refused", False)
    assert resolved.occurred_at == datetime(2024, 7, 12, 16, 0, tzinfo=VN)


def test_status_9_resolved_with_electronic_result(resolver: UnitResolver) -> None:
    results = [{"TenGiayTo": "Phiếu LLTP số 1", "DuongDanTepTinKetQua": "https://dichvucong.hanoi.gov.vn/kq/1.pdf"}]
    events = events_of(snapshot(9, NgayKetThucXuLy="20240718100000", DanhSachGiayToKetQua=results), resolver)
    resolved = by_type(events, "resolved")
    assert (resolved.outcome, resolved.e_result, resolved.event_id) == ("approved", True, f"dvcqg:{MA}:resolved")


def test_status_10_returned_implies_resolved(resolver: UnitResolver) -> None:
    events = events_of(snapshot(10, NgayKetThucXuLy="20240718100000", NgayTra="20240719090000"), resolver)
    assert [e.type for e in events] == ["received", "resolved", "returned"]
    assert by_type(events, "resolved").occurred_at == datetime(2024, 7, 18, 10, 0, tzinfo=VN)
    assert by_type(events, "returned").occurred_at == datetime(2024, 7, 19, 9, 0, tzinfo=VN)
    only_return = events_of(snapshot(10, NgayTra="20240719090000"), resolver)
    assert by_type(only_return, "resolved").occurred_at == datetime(2024, 7, 19, 9, 0, tzinfo=VN)


def test_supplement_with_new_due_date(resolver: UnitResolver) -> None:
    supplements = [
        {
            "HoSoBoSungId": 11,
            "NguoiYeuCauBoSung": "Trần Thị Bình",
            "NoiDungBoSung": "Bổ sung bản sao CCCD",
            "NgayBoSung": "20240708100000",
            "NgayTiepNhanBoSung": "20240710143000",
            "TrangThaiBoSung": True,
            "NgayHenTraTruoc": "20240719170000",
            "NgayHenTraMoi": "20240723170000",
        }
    ]
    events = events_of(snapshot(4, NgayHenTra="20240723170000", DanhSachHoSoBoSung=supplements), resolver)
    assert [e.type for e in events] == ["received", "supplement_requested", "supplement_received"]
    # The receipt keeps the original due date; the supplement carries the new one.
    assert by_type(events, "received").due_at == datetime(2024, 7, 19, 17, 0, tzinfo=VN)
    supplied = by_type(events, "supplement_received")
    assert supplied.occurred_at == datetime(2024, 7, 10, 14, 30, tzinfo=VN)
    assert supplied.due_at == datetime(2024, 7, 23, 17, 0, tzinfo=VN)


def test_new_due_without_receipt_time_is_malformed(resolver: UnitResolver) -> None:
    supplements = [{"NgayBoSung": "20240708100000", "NgayHenTraMoi": "20240723170000"}]
    result = validate_dvcqg(snapshot(4, DanhSachHoSoBoSung=supplements), now=NOW, resolver=resolver)
    assert [(r["error"], r["index"]) for r in result.rejected] == [("missing_field", 0)]
    assert "DanhSachHoSoBoSung[0].NgayTiepNhanBoSung" in result.rejected[0]["detail"]


def fee(code: str, amount: object, stage: str = "1", name: str = "Lệ phí cấp Phiếu lý lịch tư pháp") -> dict[str, Any]:
    return {"TenPhiLePhi": name, "MaPhiLePhi": code, "HinhThucThu": stage, "Gia": amount, "LoaiPhiLePhi": "2"}


def test_fees_become_payments(resolver: UnitResolver) -> None:
    fees = [fee("LP.LLTP", "200000"), fee("P.SAO", 5000, name="Phí sao y"), fee("MIENPHI", "0")]
    events = events_of(snapshot(2, DuocThanhToanTrucTuyen="1", DanhSachLePhi=fees), resolver)
    payments = [e for e in events if e.type == "payment"]
    assert [(p.event_id, p.amount, p.method) for p in payments] == [
        (f"dvcqg:{MA}:payment:LP.LLTP", 200000, "online"),
        (f"dvcqg:{MA}:payment:P.SAO", 5000, "online"),
    ]
    assert payments[0].occurred_at == datetime(2024, 7, 5, 8, 30, tzinfo=VN)
    assert payments[0].extras == {
        "source": "dvcqg",
        "fee_code": "LP.LLTP",
        "fee_name": "Lệ phí cấp Phiếu lý lịch tư pháp",
        "fee_kind": "2",
    }


@pytest.mark.parametrize(("flag", "method"), [("2", "online"), (1, "online"), ("0", "counter"), (None, "counter")])
def test_payment_method(flag: object, method: str, resolver: UnitResolver) -> None:
    events = events_of(snapshot(2, DuocThanhToanTrucTuyen=flag, DanhSachLePhi=[fee("LP", "1000")]), resolver)
    assert by_type(events, "payment").method == method


def test_fee_collected_on_return_waits_for_the_return(resolver: UnitResolver) -> None:
    fees = [fee("LP", "50000", stage="4")]
    assert [e.type for e in events_of(snapshot(4, DanhSachLePhi=fees), resolver)] == ["received"]
    later = events_of(
        snapshot(10, NgayKetThucXuLy="20240718100000", NgayTra="20240719090000", DanhSachLePhi=fees), resolver
    )
    assert by_type(later, "payment").occurred_at == datetime(2024, 7, 19, 9, 0, tzinfo=VN)


def test_fee_collected_with_a_supplement(resolver: UnitResolver) -> None:
    supplements = [{"NgayBoSung": "20240708100000", "NgayTiepNhanBoSung": "20240710143000"}]
    events = events_of(snapshot(4, DanhSachHoSoBoSung=supplements, DanhSachLePhi=[fee("LP", "30000", "2")]), resolver)
    assert by_type(events, "payment").occurred_at == datetime(2024, 7, 10, 14, 30, tzinfo=VN)


def test_fee_without_a_price_is_no_payment(resolver: UnitResolver) -> None:
    fees = [fee("A", None), fee("B", ""), {"TenPhiLePhi": "Lệ phí", "MaPhiLePhi": "C"}]
    assert [e.type for e in events_of(snapshot(2, DanhSachLePhi=fees), resolver)] == ["received"]


def test_fees_without_a_usable_code_are_numbered(resolver: UnitResolver) -> None:
    fees = [fee("", "1000"), fee("DUP", "2000"), fee("DUP", "3000"), fee("mã có dấu", 4000.0)]
    payments = [e for e in events_of(snapshot(2, DanhSachLePhi=fees), resolver) if e.type == "payment"]
    assert [(p.event_id.split(":payment:")[1], p.amount) for p in payments] == [
        ("n:1", 1000),
        ("n:2", 2000),
        ("n:3", 3000),
        ("n:4", 4000),
    ]


def test_a_fee_coded_like_a_position_does_not_collide(resolver: UnitResolver) -> None:
    events = events_of(snapshot(2, DanhSachLePhi=[fee("n1", "10"), fee("", "20")]), resolver)
    assert [e.amount for e in events if e.type == "payment"] == [10, 20]


@pytest.mark.parametrize("amount", ["200.000", "200,000", "1e5", "-5", "abc", 12.5, -1, True, [1]])
def test_bad_fee_amount_rejects_the_snapshot(amount: object, resolver: UnitResolver) -> None:
    result = validate_dvcqg(snapshot(2, DanhSachLePhi=[fee("LP", amount)]), now=NOW, resolver=resolver)
    assert result.accepted == [] and result.rejected[0]["error"] == "invalid_field"
    assert "DanhSachLePhi[0].Gia" in result.rejected[0]["detail"]


def test_same_snapshot_twice_gives_the_same_event_ids(resolver: UnitResolver) -> None:
    body = snapshot(10, NgayKetThucXuLy="20240718100000", NgayTra="20240719090000", DanhSachLePhi=[fee("LP", "1")])
    first = events_of(body, resolver)
    second = events_of(copy.deepcopy(body), resolver)
    assert first == second
    assert [encode_checked(e, stamp_text(NOW)) for e in first] == [encode_checked(e, stamp_text(NOW)) for e in second]


def test_a_later_snapshot_repeats_the_earlier_ids(resolver: UnitResolver) -> None:
    early = {e.event_id for e in events_of(snapshot(2), resolver)}
    late_body = snapshot(
        10,
        NgayKetThucXuLy="20240718100000",
        NgayTra="20240719090000",
        DanhSachHoSoBoSung=[{"NgayBoSung": "20240708100000", "NgayTiepNhanBoSung": "20240710143000"}],
    )
    late = {e.event_id for e in events_of(late_body, resolver)}
    assert early < late and len(late) == 5


@pytest.mark.parametrize(
    ("channel", "expected"), [("1", "direct"), (2, "online"), ("3", "postal"), ("", "direct"), (None, "direct")]
)
def test_channels(channel: object, expected: str, resolver: UnitResolver) -> None:
    assert by_type(events_of(snapshot(2, KenhThucHien=channel), resolver), "received").channel == expected


def test_digitisation_and_reuse_flags(resolver: UnitResolver) -> None:
    documents = [
        {"TenTepDinhKem": "Tờ khai", "DuocSoHoa": "1", "DuocTaiSuDung": "0"},
        {"TenTepDinhKem": "CCCD", "DuocSoHoa": "0", "DuocTaiSuDung": "1"},
    ]
    event = by_type(events_of(snapshot(2, TaiLieuNop=documents), resolver), "received")
    assert (event.digitized, event.reused_data) == (True, True)
    flagged = by_type(events_of(snapshot(2, HoSoCoThanhPhanSoHoa="1"), resolver), "received")
    assert (flagged.digitized, flagged.reused_data) == (True, False)


@pytest.mark.parametrize(
    ("unit_reference", "unit_id"),
    [("H26.HK", "H26.HK"), ("Quận Hoàn Kiếm", "H26.HK"), ("QUẬN HOÀN KIẾM", "H26.HK"), ("000.00.25.H26", "H26.STP")],
)
def test_unit_matching(unit_reference: str, unit_id: str, resolver: UnitResolver) -> None:
    assert events_of(snapshot(2, DonViXuLy=unit_reference), resolver)[0].unit_id == unit_id


def test_unmappable_unit_is_a_per_item_error(resolver: UnitResolver) -> None:
    body = [snapshot(2), snapshot(2, MaHoSo="HS-2", DonViXuLy="Sở Ngoại vụ"), snapshot(2, MaHoSo="HS-3")]
    result = validate_dvcqg(body, now=NOW, resolver=resolver)
    assert sorted({item.index for item in result.accepted}) == [0, 2]
    assert result.rejected == [
        {
            "index": 1,
            "event_id": None,
            "error": "unknown_unit",
            "detail": "Không tìm thấy đơn vị 'Sở Ngoại vụ' / no unit matches 'Sở Ngoại vụ'",
        }
    ]


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"NgayTiepNhan": "2024-07-05 08:30:00"}, "invalid_field", "NgayTiepNhan"),
        ({"NgayTiepNhan": "20240230083000"}, "invalid_field", "NgayTiepNhan"),
        ({"NgayHenTra": 20240719170000}, "invalid_field", "NgayHenTra"),
        ({"NgayHenTra": ""}, "missing_field", "NgayHenTra"),
        ({"MaHoSo": ""}, "missing_field", "MaHoSo"),
        ({"MaHoSo": "x" * 65}, "invalid_field", "MaHoSo"),
        ({"TrangThaiHoSo": "11"}, "invalid_field", "TrangThaiHoSo"),
        ({"TrangThaiHoSo": None}, "missing_field", "TrangThaiHoSo"),
        ({"DonViXuLy": None}, "missing_field", "DonViXuLy"),
        ({"KenhThucHien": "4"}, "invalid_field", "KenhThucHien"),
        ({"DanhSachLePhi": {"Gia": "1"}}, "invalid_field", "DanhSachLePhi"),
        ({"TrangThaiHoSo": "9"}, "missing_field", "NgayKetThucXuLy"),
        ({"TrangThaiHoSo": "10"}, "missing_field", "NgayTra"),
        ({"TrangThaiHoSo": "6"}, "missing_field", "NgayKetThucXuLy"),
        ({"DanhSachHoSoBoSung": [{"NgayBoSung": "hôm qua"}]}, "invalid_field", "DanhSachHoSoBoSung[0].NgayBoSung"),
    ],
)
def test_malformed_snapshots(overrides: dict[str, Any], code: str, field: str, resolver: UnitResolver) -> None:
    result = validate_dvcqg([snapshot(2, **overrides)], now=NOW, resolver=resolver)
    assert result.accepted == []
    assert [(r["index"], r["error"]) for r in result.rejected] == [(0, code)]
    assert f"'{field}'" in result.rejected[0]["detail"]


def test_contract_rules_still_apply_to_derived_events(resolver: UnitResolver) -> None:
    early_due = validate_dvcqg(snapshot(2, NgayHenTra="20240705083000"), now=NOW, resolver=resolver)
    assert (early_due.rejected[0]["error"], early_due.rejected[0]["event_id"]) == (
        "due_not_after_occurrence",
        f"dvcqg:{MA}:received",
    )
    future = validate_dvcqg(
        snapshot(2, NgayTiepNhan="20240802101000", NgayHenTra="20240816170000"), now=NOW, resolver=resolver
    )
    assert future.rejected[0]["error"] == "occurred_in_future"


def test_one_bad_derived_event_rejects_the_whole_snapshot(resolver: UnitResolver) -> None:
    # Receipt and resolution are fine; only the return lies in the future — nothing of the dossier is accepted.
    body = snapshot(10, NgayKetThucXuLy="20240718100000", NgayTra="20240903090000")
    result = validate_dvcqg(body, now=NOW, resolver=resolver)
    assert result.accepted == [] and result.rejected[0]["event_id"] == f"dvcqg:{MA}:returned"


def test_scope_applies_to_snapshots(registry: UnitRegistry, resolver: UnitResolver) -> None:
    in_scope = scope_checker(KeyScope(frozenset({"H26.HK"})), registry)
    result = validate_dvcqg(
        [snapshot(2), snapshot(2, MaHoSo="HS-HK", DonViXuLy="Quận Hoàn Kiếm")],
        now=NOW,
        resolver=resolver,
        in_scope=in_scope,
    )
    assert [item.index for item in result.accepted] == [1]
    assert result.rejected[0]["error"] == "forbidden_unit"


def test_unsafe_ma_ho_so_gets_a_stable_hashed_key(resolver: UnitResolver) -> None:
    (event,) = events_of(snapshot(2, MaHoSo="HS 12/2024 Hoàn Kiếm"), resolver)
    assert event.dossier_id == "HS 12/2024 Hoàn Kiếm"
    assert event.event_id.startswith("dvcqg:h") and event.event_id.endswith(":received")
    assert events_of(snapshot(2, MaHoSo="HS 12/2024 Hoàn Kiếm"), resolver)[0].event_id == event.event_id


def test_body_shapes(resolver: UnitResolver) -> None:
    envelope = {"service": "DongBoHoSoMC", "isUpdating": "false", "data": [snapshot(2), snapshot(2, MaHoSo="HS-2")]}
    assert len(snapshots_of(envelope)) == 2
    assert len(events_of(orjson.loads(orjson.dumps(envelope)), resolver)) == 2
    assert len(snapshots_of(snapshot(2))) == 1
    with pytest.raises(BatchError):
        snapshots_of("DongBoHoSoMC")
    with pytest.raises(BatchTooLargeError):
        snapshots_of([{}] * 5001)
    result = validate_dvcqg(["not a snapshot"], now=NOW, resolver=resolver)
    assert result.rejected[0]["error"] == "not_an_object"
