"""Procedures and per-unit traffic profiles, derived from the registry.

Unit "character" (how online, how punctual, how digital a unit is) comes from a stable hash of its id, not from the
run's seed: the same unit looks the same in every run, which makes demos and rankings recognisable.
"""

from __future__ import annotations

import random
import zlib
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

from simulator.params import DEPARTMENT_WEIGHTS, JUSTICE_CODE, SimParams
from simulator.registry import Unit

# Procedures under the city's authority (June 2021): 1,522 department, 263 district, 110 commune level.
PROCEDURE_COUNTS = {"department": 1522, "district": 263, "commune": 110}
# Statutory processing time in working days, by level: (choices, weights).
_WORKING_DAYS = {
    "department": ((1, 3, 5, 7, 10, 15, 20), (5, 20, 25, 15, 20, 10, 5)),
    "district": ((1, 3, 5, 7, 10, 15), (10, 30, 25, 15, 15, 5)),
    "commune": ((1, 2, 3, 5, 7), (35, 25, 20, 15, 5)),
}
_FEES_VND = (
    (10_000, 20_000, 30_000, 50_000, 100_000, 200_000, 300_000, 500_000, 1_000_000, 2_000_000),
    (10, 15, 10, 20, 15, 10, 6, 6, 5, 3),
)
_CATALOGUE_SEED = 766  # fixed: procedure codes stay the same whatever the run's seed
_MIN_PROCEDURES_PER_DEPARTMENT = 20


@dataclass(frozen=True, slots=True)
class Procedure:
    procedure_id: str
    working_days: int
    fee: int  # VND; 0 = free of charge


@dataclass(frozen=True, slots=True)
class UnitProfile:
    """What the simulator needs to know about one unit that receives dossiers."""

    unit_id: str
    level: str
    volume: float  # share of the city's dossiers
    online_probability: float
    late_share: float
    stuck_share: float
    e_result_share: float
    dissatisfied_factor: float
    is_justice: bool
    procedures: tuple[Procedure, ...]
    procedure_cumweights: tuple[float, ...]

    def pick_procedure(self, r: float) -> Procedure:
        """`r` uniform in [0, 1): a procedure by popularity (Zipf-like: a few procedures make most dossiers)."""
        return self.procedures[bisect_right(self.procedure_cumweights, r * self.procedure_cumweights[-1])]


def trait(unit_id: str, salt: str) -> float:
    """A stable pseudo-random number in [0, 1) for one unit and one trait."""
    return zlib.crc32(f"{salt}:{unit_id}".encode()) / 2**32


def _catalogue(level: str, count: int, codes: list[int], rng: random.Random, fee_share: float) -> list[Procedure]:
    days, day_weights = _WORKING_DAYS[level]
    out = []
    for code in codes[:count]:
        fee = rng.choices(*_FEES_VND)[0] if rng.random() < fee_share else 0
        out.append(Procedure(f"1.{code:06d}", rng.choices(days, day_weights)[0], fee))
    del codes[:count]
    return out


def build_procedures(departments: list[str], params: SimParams) -> dict[str, list[Procedure]]:
    """Procedure lists keyed by department unit_id, or by 'district' / 'commune' (shared by the whole level)."""
    rng = random.Random(_CATALOGUE_SEED)
    per_department = max(_MIN_PROCEDURES_PER_DEPARTMENT, PROCEDURE_COUNTS["department"] // max(len(departments), 1))
    total = per_department * len(departments) + PROCEDURE_COUNTS["district"] + PROCEDURE_COUNTS["commune"]
    codes = rng.sample(range(1_000, 14_000), total)
    out: dict[str, list[Procedure]] = {}
    for unit_id in departments:
        procs = _catalogue("department", per_department, codes, rng, params.fee_share["department"])
        if unit_id.rsplit(".", 1)[-1] == JUSTICE_CODE:
            # The Justice department's most common procedure (criminal-record certificate) takes 10 working days
            # and carries a fee; it dominates its counter.
            procs[0] = Procedure(procs[0].procedure_id, 10, 200_000)
        out[unit_id] = procs
    for level in ("district", "commune"):
        out[level] = _catalogue(level, PROCEDURE_COUNTS[level], codes, rng, params.fee_share[level])
    return out


def _raw_weight(unit: Unit) -> float:
    if unit.level == "department":
        return DEPARTMENT_WEIGHTS.get(unit.unit_id.rsplit(".", 1)[-1], 1.0)
    jitter = trait(unit.unit_id, "volume")
    if unit.level == "district":
        kind = 1.2 if unit.name.startswith("Quận") else 0.8 if unit.name.startswith("Thị xã") else 1.0
        return kind * (0.75 + 0.5 * jitter)
    kind = 1.1 if unit.name.startswith("Phường") else 1.2 if unit.name.startswith("Thị trấn") else 0.9
    return kind * (0.7 + 0.6 * jitter)


_ONLINE_BY_LEVEL = {"department": 1.15, "district": 0.95, "commune": 0.9}


def build_profiles(units: list[Unit], params: SimParams) -> list[UnitProfile]:
    """Profiles of every unit that receives dossiers (all but the city), volumes summing to 1."""
    receiving = [u for u in units if u.level != "city"]
    if not receiving:
        raise ValueError("the registry has no unit below the city")
    levels_present = {u.level for u in receiving}
    share_total = sum(params.level_shares[lvl] for lvl in levels_present)
    level_weight = {lvl: sum(_raw_weight(u) for u in receiving if u.level == lvl) for lvl in levels_present}
    procedures = build_procedures([u.unit_id for u in receiving if u.level == "department"], params)
    profiles = []
    for u in receiving:
        volume = params.level_shares[u.level] / share_total * _raw_weight(u) / level_weight[u.level]
        is_justice = u.level == "department" and u.unit_id.rsplit(".", 1)[-1] == JUSTICE_CODE
        procs = procedures[u.unit_id] if u.level == "department" else procedures[u.level]
        popularity = [1.0 / (rank + 1) ** 1.1 for rank in range(len(procs))]
        online = params.online_share * _ONLINE_BY_LEVEL[u.level] * (0.75 + 0.5 * trait(u.unit_id, "online"))
        punctuality = trait(u.unit_id, "late")
        profiles.append(
            UnitProfile(
                unit_id=u.unit_id,
                level=u.level,
                volume=volume,
                online_probability=min(max(online, 0.05), 0.95),
                # A few units are markedly less punctual than the rest (mean factor ≈ 1).
                late_share=params.late_share * (0.3 + 2.1 * punctuality**2),
                stuck_share=params.stuck_share_justice
                if is_justice
                else params.stuck_share * (0.5 + trait(u.unit_id, "stuck")),
                e_result_share=min(max(params.e_result_share + 0.2 * (trait(u.unit_id, "eresult") - 0.5), 0.0), 1.0),
                dissatisfied_factor=0.5 + trait(u.unit_id, "rating"),
                is_justice=is_justice,
                procedures=tuple(procs),
                procedure_cumweights=tuple(accumulate(popularity)),
            )
        )
    return profiles
