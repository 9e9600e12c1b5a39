"""Procedures and per-unit traffic profiles, derived from the registry.

Unit "character" (how online, how punctual, how digital a unit is) comes from a stable hash of its id, not from the
run's seed: the same unit looks the same in every run, which makes demos and rankings recognisable.
"""

from __future__ import annotations

import random
import zlib
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import accumulate

from simulator.params import DEPARTMENT_WEIGHTS, JUSTICE_CODE, SimParams
from simulator.registry import RegistryError, Unit
from simulator.worktime import DAY, VN_OFFSET

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
# When units retire on the same day, communes hand over first: a district's own volume then follows its communes.
_HANDOVER_ORDER = {"commune": 0, "department": 1, "district": 2}

Mix = dict[str, float]
"""Volume of a unit by procedure catalogue (a department's id, or 'district' / 'commune'): a unit that took over
others' work also handles their procedures."""


def epoch_of(day: date) -> int:
    """Epoch second of local (Vietnam) midnight starting `day`."""
    return (day - date(1970, 1, 1)).days * DAY - VN_OFFSET


@dataclass(frozen=True, slots=True)
class Era:
    """A stretch of time in which the registry's set of existing units does not change."""

    start: int | None  # epoch s of its first day (Vietnam midnight); None = since always
    profiles: tuple[UnitProfile, ...]  # the units that exist in it, volumes summing to 1


def _exists(unit: Unit, day: date | None) -> bool:
    """Whether `unit` exists on `day` (None = before every date of the registry)."""
    if day is None:
        return unit.valid_from is None
    return (unit.valid_from is None or unit.valid_from <= day) and (unit.valid_to is None or day < unit.valid_to)


def _first_volumes(units: list[Unit], params: SimParams) -> dict[str, Mix]:
    """Level shares (departments, districts, communes), then each unit by its raw weight within its level."""
    levels_present = {u.level for u in units}
    share_total = sum(params.level_shares[lvl] for lvl in levels_present)
    level_weight = {lvl: sum(_raw_weight(u) for u in units if u.level == lvl) for lvl in levels_present}
    return {
        u.unit_id: {_catalogue_key(u): params.level_shares[u.level] / share_total * _raw_weight(u) / level_weight[lvl]}
        for u in units
        for lvl in (u.level,)
    }


def _catalogue_key(unit: Unit) -> str:
    return unit.unit_id if unit.level == "department" else unit.level


def _successor_on(by_id: Mapping[str, Unit], unit_id: str, day: date) -> str:
    seen = set()
    unit = by_id[unit_id]
    while unit.valid_to is not None and unit.valid_to <= day and unit.successor_id and unit.unit_id not in seen:
        seen.add(unit.unit_id)
        unit = by_id[unit.successor_id]
    return unit.unit_id


def _handover(
    prev: dict[str, Mix],
    alive: set[str],
    day: date,
    by_id: Mapping[str, Unit],
    splits: Mapping[str, Sequence[tuple[str, str]]],
) -> dict[str, Mix]:
    """The volumes of the era starting `day`: retiring units hand theirs to the units that took them over.

    An old unit named by the reorganisation's mapping goes to the unit that took it whole, else in equal parts to
    the units that took a part of it; a unit whose children were mapped (a district) follows its children's
    volumes; any other goes to its successor.
    """
    state = {uid: dict(mix) for uid, mix in prev.items() if uid in alive}
    children: dict[str, list[str]] = {}
    for uid in prev:
        parent = by_id[uid].parent_id
        if parent is not None:
            children.setdefault(parent, []).append(uid)
    sent: dict[str, dict[str, float]] = {}
    retiring = sorted((by_id[uid] for uid in prev if uid not in alive), key=lambda u: _HANDOVER_ORDER[u.level])
    for unit in retiring:
        rows = [(new, share) for new, share in splits.get(unit.unit_id, ()) if new in alive]
        whole = [new for new, share in rows if share == "whole"]
        destinations: dict[str, float] = {}
        if whole:
            destinations = {whole[0]: 1.0}
        elif rows:
            for new, _ in rows:
                destinations[new] = destinations.get(new, 0.0) + 1.0 / len(rows)
        else:
            for child in children.get(unit.unit_id, ()):
                child_volume = sum(prev[child].values())
                for new, fraction in sent.get(child, {}).items():
                    destinations[new] = destinations.get(new, 0.0) + child_volume * fraction
            total = sum(destinations.values())
            destinations = {new: w / total for new, w in destinations.items()} if total > 0 else {}
        if not destinations:
            successor = _successor_on(by_id, unit.unit_id, day)
            destinations = {successor: 1.0} if successor in alive else {}
        sent[unit.unit_id] = destinations
        for new, fraction in destinations.items():
            mix = state.setdefault(new, {})
            for key, volume in prev[unit.unit_id].items():
                mix[key] = mix.get(key, 0.0) + volume * fraction
    return state


def build_eras(
    units: list[Unit], params: SimParams, splits: Mapping[str, Sequence[tuple[str, str]]] | None = None
) -> list[Era]:
    """The registry's eras, each with the profiles of the units that exist in it.

    The first era is weighted as a whole (level shares, then units by kind and a stable jitter). At each later date
    the volume of every retiring unit passes to the units that took it over (`splits`: a reorganisation's old → new
    mapping, e.g. Resolution 1656's), so a new commune's volume is the sum of its predecessors' (shares of them)
    and the city's total stays the same; a unit created with no predecessor gets its level's mean volume.
    """
    receiving = [u for u in units if u.level != "city"]
    if not receiving:
        raise ValueError("the registry has no unit below the city")
    by_id = {u.unit_id: u for u in units}
    splits = splits or {}
    for old, rows in splits.items():
        if old in by_id:
            missing = [new for new, _ in rows if new not in by_id]
            if missing:
                raise RegistryError(f"the mapping sends {old} to units not in the registry: {missing}")
    days: list[date | None] = [None, *sorted({d for u in receiving for d in (u.valid_from, u.valid_to) if d})]
    procedures = build_procedures([u.unit_id for u in receiving if u.level == "department"], params)
    eras: list[Era] = []
    state: dict[str, Mix] = {}
    for day in days:
        alive_units = [u for u in receiving if _exists(u, day)]
        alive = {u.unit_id for u in alive_units}
        state = _handover(state, alive, day, by_id, splits) if state and day else {}
        newcomers = [u for u in alive_units if u.unit_id not in state]
        if not state:
            state = _first_volumes(newcomers, params)
        else:
            for unit in newcomers:
                peers = [sum(m.values()) for uid, m in state.items() if by_id[uid].level == unit.level]
                peers = peers or [sum(m.values()) for m in state.values()]
                state[unit.unit_id] = {_catalogue_key(unit): sum(peers) / len(peers)}
        total = sum(sum(m.values()) for m in state.values())
        if total <= 0:
            continue  # no unit exists in this era: nothing can be received
        state = {uid: {k: v / total for k, v in mix.items()} for uid, mix in state.items()}
        profiles = tuple(_profile(u, state[u.unit_id], procedures, params) for u in alive_units)
        eras.append(Era(epoch_of(day) if day is not None and eras else None, profiles))
    return eras


def _profile(u: Unit, mix: Mix, procedures: dict[str, list[Procedure]], params: SimParams) -> UnitProfile:
    is_justice = u.level == "department" and u.unit_id.rsplit(".", 1)[-1] == JUSTICE_CODE
    procs: list[Procedure] = []
    popularity: list[float] = []
    volume = sum(mix.values())
    for key in sorted(mix, key=lambda k: (k != _catalogue_key(u), k)):  # its own catalogue first
        catalogue = procedures[key]
        zipf = [1.0 / (rank + 1) ** 1.1 for rank in range(len(catalogue))]
        weight = 1.0 if len(mix) == 1 else mix[key] / volume / sum(zipf)
        procs += catalogue
        popularity += [z * weight for z in zipf]
    online = params.online_share * _ONLINE_BY_LEVEL[u.level] * (0.75 + 0.5 * trait(u.unit_id, "online"))
    punctuality = trait(u.unit_id, "late")
    stuck = params.stuck_share_justice if is_justice else params.stuck_share * (0.5 + trait(u.unit_id, "stuck"))
    return UnitProfile(
        unit_id=u.unit_id,
        level=u.level,
        volume=volume,
        online_probability=min(max(online, 0.05), 0.95),
        # A few units are markedly less punctual than the rest (mean factor ≈ 1).
        late_share=params.late_share * (0.3 + 2.1 * punctuality**2),
        stuck_share=stuck,
        e_result_share=min(max(params.e_result_share + 0.2 * (trait(u.unit_id, "eresult") - 0.5), 0.0), 1.0),
        dissatisfied_factor=0.5 + trait(u.unit_id, "rating"),
        is_justice=is_justice,
        procedures=tuple(procs),
        procedure_cumweights=tuple(accumulate(popularity)),
    )


def build_profiles(units: list[Unit], params: SimParams) -> list[UnitProfile]:
    """Profiles of the units of the registry's first era (all units, for a registry without validity dates)."""
    return list(build_eras(units, params)[0].profiles)
