"""Calibration knobs (with the published figure each one is tuned to) and the run configuration."""

from __future__ import annotations

from dataclasses import dataclass, field

# Hour-of-day arrival weights (Vietnam time). Counter (direct/postal) dossiers follow office hours with a lunch
# dip; online dossiers come round the clock with office-hour and evening peaks.
COUNTER_HOURS_WORKDAY = {8: 1.0, 9: 1.4, 10: 1.4, 11: 1.1, 12: 0.15, 13: 0.7, 14: 1.2, 15: 1.2, 16: 0.9}
COUNTER_HOURS_SATURDAY = {8: 0.35, 9: 0.45, 10: 0.4, 11: 0.25}  # some one-stop shops open Saturday mornings
ONLINE_HOURS_WORKDAY = {
    0: 0.05,
    1: 0.03,
    2: 0.02,
    3: 0.02,
    4: 0.03,
    5: 0.06,
    6: 0.2,
    7: 0.5,
    8: 1.1,
    9: 1.3,
    10: 1.3,
    11: 1.1,
    12: 0.7,
    13: 0.9,
    14: 1.2,
    15: 1.2,
    16: 1.0,
    17: 0.8,
    18: 0.6,
    19: 0.6,
    20: 0.65,
    21: 0.55,
    22: 0.3,
    23: 0.15,
}
ONLINE_OFF_DAY_FACTOR = 0.35  # weekends and holidays

# Relative volumes of departments by the short code at the end of their id (H26.DEP.<code>). Justice, Transport
# (driving licences), Planning & Investment (business registration) and Labour are the big counters.
DEPARTMENT_WEIGHTS = {
    "STP": 18.0,
    "SGTVT": 20.0,
    "SKHDT": 14.0,
    "SLDTBXH": 7.0,
    "SYT": 6.0,
    "STNMT": 5.0,
    "SXD": 5.0,
    "SCT": 4.0,
    "SGDDT": 4.0,
    "SNV": 2.0,
    "SNNPTNT": 2.0,
    "STC": 1.5,
    "SVHTT": 1.5,
    "SQHKT": 1.5,
    "BQLKCN": 1.5,
    "SDL": 1.0,
    "SKHCN": 1.0,
    "STTTT": 1.0,
    "SNGV": 0.5,
    "VPUBND": 0.5,
    "TTTP": 0.3,
    "BDT": 0.2,
}
# Justice's code: the unit that carries the stuck backlog (HANOI_FACTS: 44.8 % of overdue open, July 2024).
JUSTICE_CODE = "STP"


@dataclass(frozen=True, slots=True)
class SimParams:
    """Every rate of the traffic model. Defaults reproduce Hanoi's published figures (docs/simulator.md)."""

    dossiers_per_year: float = 4_000_000  # 2023: "over 4 million dossiers received"
    level_shares: dict[str, float] = field(
        default_factory=lambda: {"department": 0.35, "district": 0.35, "commune": 0.30}
    )
    online_share: float = 0.60  # 2024 target "online dossiers ≥ 60 %"
    postal_share_of_counter: float = 0.07
    digitized_online: float = 0.95
    digitized_counter: float = 0.78
    reused_share: float = 0.155  # 2023: 15.51 % reused digitised data
    supplement_share: float = 0.06
    supplement_answered: float = 0.85  # the rest stay on hold; some of those are withdrawn
    unanswered_withdrawn: float = 0.3
    pause_share: float = 0.02
    withdraw_share: float = 0.008
    late_share: float = 0.0016  # late resolutions beyond the stuck ones; together ≈ 0.3 % (2023: 0.26 %)
    stuck_share: float = 0.0006  # dossiers that get stuck far past due (most units)
    stuck_share_justice: float = 0.02  # … and at the Department of Justice
    stuck_never_resolved: float = 0.7  # stuck dossiers whose record is never closed
    stuck_mean_extra_days: float = 60.0
    backlog_size: float = 53_828  # July 2024 overdue open city-wide (scaled by --scale)
    backlog_justice_share: float = 0.448
    backlog_monthly_clearance: float = 0.005  # share of the backlog resolved (late) per month
    refused_share: float = 0.03
    e_result_share: float = 0.88  # average; online dossiers higher, counter lower
    returned_share: float = 0.97
    fee_share: dict[str, float] = field(default_factory=lambda: {"department": 0.55, "district": 0.45, "commune": 0.35})
    online_payment_if_online: float = 0.78  # together ≈ 55 % online payments (2024 target)
    online_payment_if_counter: float = 0.18
    second_payment_share: float = 0.05
    rating_share: float = 0.30
    rating_dissatisfied: float = 0.07  # on-time dossiers; ≈ 92 % satisfied overall (target ≥ 90 %)
    rating_dissatisfied_if_late: float = 0.4
    rating_very_satisfied: float = 0.6  # of the satisfied ones
    # Dirty delivery (per event): late by hours, very late by days, duplicated.
    late_delivery_share: float = 0.02
    very_late_delivery_share: float = 0.003
    duplicate_share: float = 0.005
    # Units retired by a reorganisation: a stable share of them ("legacy" one-stop-shop systems) keep sending the
    # old unit id on the later events of their open dossiers until this day (inclusive); the others switch at once.
    legacy_share: float = 0.10
    legacy_until: str = "2025-09-30"
    # Used to turn `--rate N` (events/s) into a scale; measured on the default model (docs/simulator.md).
    events_per_dossier: float = 3.85


@dataclass(frozen=True, slots=True)
class SimConfig:
    """One run. Times are epoch seconds; `end=None` runs forever (real-time mode)."""

    start: int
    end: int | None
    seed: int = 42
    scale: float = 0.01
    profile: str = "hanoi"  # 'hanoi' (office hours, weekdays) or 'flat' (round the clock, for steady demos)
    run_id: str = ""  # prefix of dossier ids; default "S<seed>"
    backlog: bool = True
    invalid_share: float = 0.0
    params: SimParams = field(default_factory=SimParams)
    send_from: int | None = None
    """Deliveries before this moment are simulated but not yielded (a warm-up); None: all are yielded."""
    send_open: bool = False
    """With `send_from`: the warm-up events of dossiers still in progress at `send_from` are yielded at it."""

    def __post_init__(self) -> None:
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        if self.scale <= 0:
            raise ValueError("scale must be positive")
        if self.profile not in ("hanoi", "flat"):
            raise ValueError("profile must be 'hanoi' or 'flat'")
        if not 0 <= self.invalid_share <= 1:
            raise ValueError("invalid_share must be within [0, 1]")

    @property
    def dossier_prefix(self) -> str:
        return self.run_id or f"S{self.seed}"


def scale_for_rate(events_per_second: float, params: SimParams | None = None) -> float:
    """The scale whose average event rate (round the clock, all week) is `events_per_second`."""
    p = params or SimParams()
    dossiers_per_second = p.dossiers_per_year / (365.25 * 86_400)
    return events_per_second / (dossiers_per_second * p.events_per_dossier)
