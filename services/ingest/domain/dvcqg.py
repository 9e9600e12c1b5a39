"""National Public Service Portal compatibility (Cổng DVCQG, service `DongBoHoSoMC`, SPEC §7).

A one-stop-shop system pushes whole dossier snapshots; each snapshot becomes contract events whose event_ids
are derived from the snapshot's own content (`dvcqg:<MaHoSo>:<kind>[:<key>]`), so pushing the same snapshot
again — or a later snapshot of the same dossier — repeats the same ids and changes nothing. The field-by-field
mapping and its sources are in docs/dvcqg.md.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from enum import IntEnum
from typing import Any

from services.ingest.domain.batch import (
    MAX_BATCH_ITEMS,
    AcceptedEvent,
    BatchError,
    BatchResult,
    BatchTooLargeError,
    forbidden_unit,
)
from services.ingest.domain.unit_resolver import UnitResolver
from shared.contract import ErrorCode, EventRejection
from shared.contract_codec import CheckedEvent, validate_item

VIETNAM_TZ = timezone(timedelta(hours=7))
_TIME_RE = re.compile(r"\d{14}")
_ID_SAFE_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_FEE_CODE_RE = re.compile(r"[A-Za-z0-9._-]{1,32}")
# Digits only: "200.000" is 200,000 VND in Vietnamese notation and 200 in English, so it is refused.
_AMOUNT_RE = re.compile(r"\d{1,15}")


class DvcqgStatus(IntEnum):
    """TrangThaiHoSo of the national portal."""

    NEWLY_SUBMITTED = 1  # Mới đăng ký
    RECEIVED = 2  # Được tiếp nhận
    NOT_RECEIVED = 3  # Không được tiếp nhận
    PROCESSING = 4  # Đang xử lý
    SUPPLEMENT_REQUESTED = 5  # Yêu cầu bổ sung giấy tờ
    FINANCIAL_OBLIGATION = 6  # Yêu cầu thực hiện nghĩa vụ tài chính (the clock stops: mapped to paused)
    WITHDRAWN = 7  # Công dân yêu cầu rút hồ sơ
    STOPPED = 8  # Dừng xử lý
    RESOLVED = 9  # Đã xử lý xong
    RETURNED = 10  # Đã trả kết quả


_CHANNELS = {1: "direct", 2: "online", 3: "postal"}  # KenhThucHien; absent means direct (as the index reads it)
_ONLINE_PAYMENT = {1, 2}  # DuocThanhToanTrucTuyen: 1 on the national portal, 2 on the province's gateway


class _SnapshotError(Exception):
    def __init__(self, code: ErrorCode, field: str | None, vi: str, en: str) -> None:
        self.code, self.field, self.detail = code, field, f"{vi} / {en}"


def _missing(name: str) -> _SnapshotError:
    return _SnapshotError(ErrorCode.MISSING_FIELD, name, f"Thiếu trường '{name}'", f"missing field '{name}'")


def _invalid(name: str, vi: str, en: str) -> _SnapshotError:
    return _SnapshotError(ErrorCode.INVALID_FIELD, name, f"'{name}' {vi}", f"'{name}' {en}")


def snapshots_of(body: object) -> list[object]:
    """The snapshots of a body: one object, a list, or the portal's envelope `{"service", "data": [...]}`."""
    if isinstance(body, Mapping) and "MaHoSo" not in body and isinstance(body.get("data"), list):
        body = body["data"]
    if isinstance(body, Mapping):
        return [body]
    if not isinstance(body, list):
        raise BatchError("not_an_object", "Nội dung phải là đối tượng hoặc mảng JSON / body must be an object or array")
    if len(body) > MAX_BATCH_ITEMS:
        raise BatchTooLargeError(len(body))
    return body


def snapshot_events(snapshot: object, resolver: UnitResolver) -> list[dict[str, Any]]:
    """Contract-shaped raw events of one snapshot (still to be validated). Raises `_SnapshotError`."""
    if not isinstance(snapshot, Mapping):
        raise _SnapshotError(ErrorCode.NOT_AN_OBJECT, None, "Hồ sơ phải là đối tượng JSON", "not a JSON object")
    ma_ho_so = _text(snapshot, "MaHoSo", required=True, max_length=64)
    assert ma_ho_so is not None
    status = _status(snapshot.get("TrangThaiHoSo"))
    unit_id = _unit(snapshot, resolver)
    ma_tthc = _text(snapshot, "MaTTHC", max_length=None)
    base: dict[str, Any] = {"dossier_id": ma_ho_so, "unit_id": unit_id, "source": "dvcqg"}
    if ma_tthc and len(ma_tthc) <= 32 and ma_tthc.isprintable():
        base["procedure_id"] = ma_tthc
    key = ma_ho_so if _ID_SAFE_RE.fullmatch(ma_ho_so) else "h" + hashlib.sha256(ma_ho_so.encode()).hexdigest()[:32]
    events: dict[str, dict[str, Any]] = {}

    def emit(kind: str, at: datetime, suffix: str | None = None, **fields: Any) -> None:
        event_id = f"dvcqg:{key}:{kind}" + (f":{suffix}" if suffix else "")
        events.setdefault(
            event_id, {"event_id": event_id, "type": kind, "occurred_at": at.isoformat(), **base, **fields}
        )

    received_at = _time(snapshot, "NgayTiepNhan")
    ended_at = _time(snapshot, "NgayKetThucXuLy")
    returned_at = _time(snapshot, "NgayTra")
    supplements = _supplements(snapshot)
    if received_at is not None:
        original_due = next((s["before"] for s in supplements if s["before"] is not None), None)
        due = original_due or _time(snapshot, "NgayHenTra")
        if due is None:
            raise _missing("NgayHenTra")
        emit(
            "received",
            received_at,
            channel=_channel(snapshot.get("KenhThucHien")),
            due_at=due.isoformat(),
            digitized=_digitized(snapshot),
            reused_data=_reused(snapshot),
        )
    for item in supplements:
        if item["requested"] is not None:
            emit("supplement_requested", item["requested"], _stamp(item["requested"]))
        if item["received"] is not None:
            extra = {"due_at": item["new_due"].isoformat()} if item["new_due"] is not None else {}
            emit("supplement_received", item["received"], _stamp(item["received"]), **extra)
    open_request = any(s["received"] is None and s["requested"] is not None for s in supplements)
    if status is DvcqgStatus.SUPPLEMENT_REQUESTED and not open_request:
        # No open request in the list: the portal's reading is that NgayKetThucXuLy holds the request time.
        requested_at = _required(ended_at, "DanhSachHoSoBoSung[].NgayBoSung")
        emit("supplement_requested", requested_at, _stamp(requested_at))
    if status is DvcqgStatus.FINANCIAL_OBLIGATION:
        paused_at = _required(ended_at, "NgayKetThucXuLy")
        emit("paused", paused_at, _stamp(paused_at))
    if status is DvcqgStatus.WITHDRAWN:
        emit("withdrawn", _required(ended_at or returned_at, "NgayKetThucXuLy"))
    e_result = _e_result(snapshot)
    if status is DvcqgStatus.STOPPED:
        emit("resolved", _required(ended_at, "NgayKetThucXuLy"), outcome="refused", e_result=e_result)
    if status is DvcqgStatus.RESOLVED:
        emit("resolved", _required(ended_at, "NgayKetThucXuLy"), outcome="approved", e_result=e_result)
    if status is DvcqgStatus.RETURNED:
        returned = _required(returned_at, "NgayTra")
        emit("resolved", ended_at or returned, outcome="approved", e_result=e_result)
        emit("returned", returned)
    _emit_payments(snapshot, emit, received_at, returned_at, supplements)
    return list(events.values())


def _emit_payments(
    snapshot: Mapping[str, Any],
    emit: Callable[..., None],
    received_at: datetime | None,
    returned_at: datetime | None,
    supplements: list[dict[str, Any]],
) -> None:
    """One payment event per fee line with a non-zero `Gia`, dated by when the fee is collected (HinhThucThu)."""
    fees = _list(snapshot, "DanhSachLePhi")
    online = _code(snapshot.get("DuocThanhToanTrucTuyen")) in _ONLINE_PAYMENT
    codes = [fee.get("MaPhiLePhi") for fee in fees]
    last_supplement = max((s["received"] for s in supplements if s["received"] is not None), default=None)
    # HinhThucThu: 1 = collected at reception (also the default), 2 = with a supplement, 4 = when returned.
    stage_times: dict[int | None, datetime | None] = {2: last_supplement, 4: returned_at}
    for position, fee in enumerate(fees, start=1):
        amount = _amount(fee.get("Gia"), f"DanhSachLePhi[{position - 1}].Gia")
        stage = _code(fee.get("HinhThucThu"))
        paid_at = stage_times.get(stage, received_at)
        if amount == 0 or paid_at is None:
            continue  # a zero fee is no payment; an unpaid stage is emitted by a later snapshot
        code = codes[position - 1]
        fee_key = code if isinstance(code, str) and _FEE_CODE_RE.fullmatch(code) and codes.count(code) == 1 else None
        extras = {"fee_code": code, "fee_name": fee.get("TenPhiLePhi"), "fee_kind": fee.get("LoaiPhiLePhi")}
        emit(
            "payment",
            paid_at,
            fee_key or f"n:{position}",  # fee codes never contain ":", so the two kinds cannot collide
            method="online" if online else "counter",
            amount=amount,
            **{name: value for name, value in extras.items() if value not in (None, "")},
        )


def _supplements(snapshot: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = []
    for position, item in enumerate(_list(snapshot, "DanhSachHoSoBoSung")):
        prefix = f"DanhSachHoSoBoSung[{position}]."
        entry = {
            "requested": _time(item, "NgayBoSung", prefix),
            "received": _time(item, "NgayTiepNhanBoSung", prefix),
            "before": _time(item, "NgayHenTraTruoc", prefix),
            "new_due": _time(item, "NgayHenTraMoi", prefix),
        }
        if entry["new_due"] is not None and entry["received"] is None:
            raise _missing(prefix + "NgayTiepNhanBoSung")
        found.append(entry)
    return sorted(found, key=lambda s: s["requested"] or s["received"] or datetime.max.replace(tzinfo=VIETNAM_TZ))


def _time(source: Mapping[str, Any], name: str, prefix: str = "") -> datetime | None:
    value = source.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _TIME_RE.fullmatch(value):
        raise _invalid(prefix + name, "phải có dạng yyyyMMddHHmmss", "must look like yyyyMMddHHmmss")
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=VIETNAM_TZ)
    except ValueError:
        raise _invalid(prefix + name, "không phải ngày giờ có thật", "is not a real date and time") from None


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")


def _required(moment: datetime | None, name: str) -> datetime:
    if moment is None:
        raise _missing(name)
    return moment


def _text(source: Mapping[str, Any], name: str, *, required: bool = False, max_length: int | None) -> str | None:
    value = source.get(name)
    if value is None or value == "":
        if required:
            raise _missing(name)
        return None
    if not isinstance(value, str) or (max_length is not None and (len(value) > max_length or not value.isprintable())):
        raise _invalid(name, f"phải là chuỗi 1–{max_length} ký tự in được", f"must be 1–{max_length} printable chars")
    return value


def _code(value: object) -> int | None:
    """Portal codes arrive as strings ("2") or numbers (2)."""
    if type(value) is int:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _status(value: object) -> DvcqgStatus:
    if value is None or value == "":
        raise _missing("TrangThaiHoSo")
    code = _code(value)
    if code is None or code not in DvcqgStatus._value2member_map_:
        raise _invalid("TrangThaiHoSo", "phải là mã 1–10", "must be a code 1–10")
    return DvcqgStatus(code)


def _channel(value: object) -> str:
    if value is None or value == "":
        return "direct"
    code = _code(value)
    if code not in _CHANNELS:
        raise _invalid("KenhThucHien", "phải là 1, 2 hoặc 3", "must be 1, 2 or 3")
    return _CHANNELS[code]


def _unit(snapshot: Mapping[str, Any], resolver: UnitResolver) -> str:
    reference = _text(snapshot, "DonViXuLy", required=True, max_length=None)
    assert reference is not None
    resolution = resolver.resolve(reference)
    if resolution.unit_id is not None:
        return resolution.unit_id
    if resolution.ambiguous:
        candidates = ", ".join(resolution.ambiguous)
        raise _SnapshotError(
            ErrorCode.UNKNOWN_UNIT,
            "DonViXuLy",
            f"'{reference}' khớp nhiều đơn vị: {candidates}",
            f"'{reference}' matches several units: {candidates}",
        )
    raise _SnapshotError(
        ErrorCode.UNKNOWN_UNIT, "DonViXuLy", f"Không tìm thấy đơn vị '{reference}'", f"no unit matches '{reference}'"
    )


def _list(source: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = source.get(name)
    if value is None or value == "":
        return []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise _invalid(name, "phải là mảng các đối tượng", "must be an array of objects")
    return value


def _amount(value: object, name: str) -> int:
    if value is None or value == "":
        return 0  # the index reads a missing Gia like 0: no fee to pay
    if type(value) is int and value >= 0:
        return value
    if type(value) is float and value.is_integer() and 0 <= value < 1e15:
        return int(value)
    if isinstance(value, str) and _AMOUNT_RE.fullmatch(value.strip()):
        return int(value.strip())
    raise _invalid(name, "phải là số tiền nguyên ≥ 0 (VND)", "must be a whole amount ≥ 0 (VND)")


def _flag(value: object) -> bool:
    return value is True or _code(value) == 1


def _digitized(snapshot: Mapping[str, Any]) -> bool:
    documents = _list(snapshot, "TaiLieuNop")
    return _flag(snapshot.get("HoSoCoThanhPhanSoHoa")) or any(_flag(d.get("DuocSoHoa")) for d in documents)


def _reused(snapshot: Mapping[str, Any]) -> bool:
    return any(_flag(document.get("DuocTaiSuDung")) for document in _list(snapshot, "TaiLieuNop"))


def _e_result(snapshot: Mapping[str, Any]) -> bool:
    results = _list(snapshot, "DanhSachGiayToKetQua")
    return any(isinstance(r.get("DuongDanTepTinKetQua"), str) and r["DuongDanTepTinKetQua"].strip() for r in results)


def validate_dvcqg(
    body: object,
    *,
    now: datetime,
    resolver: UnitResolver,
    in_scope: Callable[[str], bool] | None = None,
) -> BatchResult:
    """Convert and validate every snapshot. A snapshot is all-or-nothing: one bad event rejects all of it.

    Accepted events carry the index of their snapshot; rejections use the SPEC §7 item shape with the snapshot
    index (and the offending event_id when the failure was in a derived event).
    """
    result = BatchResult()
    unit_exists = resolver.registry.exists
    for index, snapshot in enumerate(snapshots_of(body)):
        try:
            raw_events = snapshot_events(snapshot, resolver)
        except _SnapshotError as error:
            result.rejected.append(EventRejection(error.code, error.detail, None, error.field).as_item(index))
            continue
        accepted: list[CheckedEvent] = []
        rejection: EventRejection | None = None
        for raw in raw_events:
            outcome = validate_item(raw, now=now, unit_exists=unit_exists)
            if not isinstance(outcome, EventRejection) and in_scope is not None and not in_scope(outcome.unit_id):
                outcome = forbidden_unit(outcome)
            if isinstance(outcome, EventRejection):
                rejection = outcome
                break
            accepted.append(outcome)
        if rejection is not None:
            result.rejected.append(rejection.as_item(index))
        else:
            result.accepted.extend(AcceptedEvent(index, event) for event in accepted)
    return result
