"""Validate data/hanoi_registry.csv, data/hanoi_unit_codes.csv and data/hanoi_reform_2025.csv (standard library only).

    python3 data/build/check_registry.py [DATA_DIR]

Prints one line per check and a closing "N passed, N failed" line; exits 1 if any check failed.
"""

from __future__ import annotations

import collections
import csv
import re
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path

REGISTRY_HEADER = ["unit_id", "name", "level", "parent_id", "valid_from", "valid_to", "successor_id"]
CODES_HEADER = ["unit_id", "gso_code", "source", "agency_code"]
REFORM_HEADER = ["old_unit_id", "new_unit_id", "share", "article"]
REFORM_DAY = "2025-07-01"
LEVELS = {"city", "department", "district", "commune"}
ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Names such as "Xã 12", "Xã số 01 (tên tạm)", "Phường 7" or "Unit 3" are placeholders, not sourced names.
PLACEHOLDER_RE = re.compile(r"(?i)(\btên tạm\b|\bsố \d+|^\S+( \S+)? \d+$|\bunit\b|\btodo\b|\?)")
COMMUNE_KINDS = ("Phường ", "Xã ", "Thị trấn ")
DISTRICT_KINDS = ("Quận ", "Huyện ", "Thị xã ")


def read(path: Path, header: list[str]) -> list[dict[str, str]]:
    raw = path.read_bytes()
    if b"\r" in raw:
        raise AssertionError(f"{path.name}: has \\r line ends")
    if raw.startswith(b"\xef\xbb\xbf"):
        raise AssertionError(f"{path.name}: starts with a BOM")
    rows = list(csv.reader(raw.decode("utf-8").splitlines()))
    if rows[0] != header:
        raise AssertionError(f"{path.name}: header {rows[0]} != {header}")
    return [dict(zip(header, r, strict=True)) for r in rows[1:]]


def exists_on(unit: dict[str, str], day: str) -> bool:
    return (not unit["valid_from"] or unit["valid_from"] <= day) and (not unit["valid_to"] or day < unit["valid_to"])


def main() -> int:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
    results: list[tuple[str, str]] = []  # (check, problem or "")

    def check(label: str, fn: Callable[[], list[str]]) -> None:
        try:
            problems = fn()
        except Exception as exc:  # a broken file fails its checks, it does not stop the others
            problems = [f"{type(exc).__name__}: {exc}"]
        results.append(
            (label, "; ".join(problems[:8]) + (f" (+{len(problems) - 8} more)" if len(problems) > 8 else ""))
        )

    registry = read(data / "hanoi_registry.csv", REGISTRY_HEADER)
    codes = read(data / "hanoi_unit_codes.csv", CODES_HEADER)
    reform = read(data / "hanoi_reform_2025.csv", REFORM_HEADER)
    units = {u["unit_id"]: u for u in registry}
    by_level = collections.defaultdict(list)
    for u in registry:
        by_level[u["level"]].append(u)
    old_communes = [u for u in by_level["commune"] if u["valid_to"] == REFORM_DAY]
    new_communes = [u for u in by_level["commune"] if u["valid_from"] == REFORM_DAY]

    check(
        "unit ids are unique and well-formed",
        lambda: (
            [f"duplicate {i}" for i, n in collections.Counter(u["unit_id"] for u in registry).items() if n > 1]
            + [f"bad id {u['unit_id']!r}" for u in registry if not ID_RE.fullmatch(u["unit_id"])]
        ),
    )
    check(
        "levels, parents and dates are well-formed",
        lambda: (
            [f"{u['unit_id']}: level {u['level']!r}" for u in registry if u["level"] not in LEVELS]
            + [
                f"{u['unit_id']}: parent {u['parent_id']!r}"
                for u in registry
                if (u["level"] == "city") != (u["parent_id"] == "") or (u["parent_id"] and u["parent_id"] not in units)
            ]
            + [
                f"{u['unit_id']}: {k} {u[k]!r}"
                for u in registry
                for k in ("valid_from", "valid_to")
                if u[k] and not DATE_RE.fullmatch(u[k])
            ]
            + [
                f"{u['unit_id']}: valid_from >= valid_to"
                for u in registry
                if u["valid_from"] and u["valid_to"] and u["valid_from"] >= u["valid_to"]
            ]
        ),
    )
    check(
        "1 city, Thành phố Hà Nội, never retired",
        lambda: (
            []
            if [(u["unit_id"], u["name"], u["valid_to"]) for u in by_level["city"]] == [("H26", "Thành phố Hà Nội", "")]
            else [str(by_level["city"])]
        ),
    )
    check(
        "30 districts under the city, all retired on 2025-07-01",
        lambda: (
            ([] if len(by_level["district"]) == 30 else [f"{len(by_level['district'])} districts"])
            + [
                f"{u['unit_id']}"
                for u in by_level["district"]
                if u["parent_id"] != "H26" or u["valid_to"] != REFORM_DAY or not u["name"].startswith(DISTRICT_KINDS)
            ]
        ),
    )
    check(
        "526 old communes, each under a district",
        lambda: (
            ([] if len(old_communes) == 526 else [f"{len(old_communes)} old communes"])
            + [u["unit_id"] for u in old_communes if units[u["parent_id"]]["level"] != "district"]
        ),
    )
    check(
        "126 new communes = 51 phường + 75 xã, directly under the city",
        lambda: (
            ([] if len(new_communes) == 126 else [f"{len(new_communes)} new communes"])
            + ([] if sum(u["name"].startswith("Phường ") for u in new_communes) == 51 else ["not 51 phường"])
            + ([] if sum(u["name"].startswith("Xã ") for u in new_communes) == 75 else ["not 75 xã"])
            + [u["unit_id"] for u in new_communes if u["parent_id"] != "H26" or u["valid_to"]]
        ),
    )
    check(
        "every commune is old or new",
        lambda: [u["unit_id"] for u in by_level["commune"] if u not in old_communes and u not in new_communes],
    )
    check(
        "departments sit under the city",
        lambda: (
            ([] if by_level["department"] else ["no departments"])
            + [u["unit_id"] for u in by_level["department"] if u["parent_id"] != "H26"]
        ),
    )

    def successors() -> list[str]:
        problems = []
        for u in registry:
            succ = u["successor_id"]
            if bool(u["valid_to"]) != bool(succ):
                problems.append(f"{u['unit_id']}: valid_to and successor_id must come together")
            elif succ:
                if succ == u["unit_id"] or succ not in units:
                    problems.append(f"{u['unit_id']}: successor {succ!r} missing or itself")
                elif not exists_on(units[succ], u["valid_to"]):
                    problems.append(f"{u['unit_id']}: successor {succ} does not exist on {u['valid_to']}")
        return problems

    check("successors exist on the retirement day", successors)

    def no_cycles() -> list[str]:
        problems = []
        for u in registry:
            seen, cur = {u["unit_id"]}, u
            while cur["successor_id"] and cur["successor_id"] in units:
                cur = units[cur["successor_id"]]
                if cur["unit_id"] in seen:
                    problems.append(f"cycle through {u['unit_id']}")
                    break
                seen.add(cur["unit_id"])
            else:
                if cur["valid_to"]:
                    problems.append(f"{u['unit_id']}: chain ends at retired {cur['unit_id']}")
        return problems

    check("successor chains end at a live unit, no cycles", no_cycles)

    def names() -> list[str]:
        problems = []
        for u in registry:
            n = u["name"]
            if not n or len(n) > 200 or n != n.strip() or "  " in n:
                problems.append(f"{u['unit_id']}: name {n!r}")
            if unicodedata.normalize("NFC", n) != n:
                problems.append(f"{u['unit_id']}: name not NFC")
            if PLACEHOLDER_RE.search(n):
                problems.append(f"{u['unit_id']}: placeholder name {n!r}")
            if u["level"] in ("commune", "district"):
                kinds = COMMUNE_KINDS if u["level"] == "commune" else DISTRICT_KINDS
                kind = next((k for k in kinds if n.startswith(k)), None)
                if kind is None:
                    problems.append(f"{u['unit_id']}: {n!r} lacks its kind")
                elif any(w[0].islower() for w in n[len(kind) :].split()):
                    problems.append(f"{u['unit_id']}: {n!r} has a lower-case word")
        return problems

    check("names non-empty, NFC, no placeholders, proper nouns capitalised", names)

    def commune_ids() -> list[str]:
        problems = []
        for u in old_communes:
            if not re.fullmatch(re.escape(u["parent_id"]) + r"\.\d{5}", u["unit_id"]):
                problems.append(u["unit_id"])
        problems += [u["unit_id"] for u in new_communes if not re.fullmatch(r"H26\.C\.\d{5}", u["unit_id"])]
        return problems

    check("commune ids carry their 5-digit statistics code", commune_ids)

    def code_file() -> list[str]:
        problems = [f"{c['unit_id']} not in registry" for c in codes if c["unit_id"] not in units]
        problems += [
            f"{c['unit_id']}: code {c['gso_code']!r} is not the id's"
            for c in codes
            if not c["unit_id"].endswith("." + c["gso_code"])
        ]
        problems += [f"{c['unit_id']}: no source" for c in codes if not c["source"]]
        listed = {c["unit_id"] for c in codes}
        problems += [f"{u['unit_id']}: no code" for u in old_communes + new_communes if u["unit_id"] not in listed]
        dup = collections.Counter(c["unit_id"] for c in codes)
        problems += [f"{i} listed twice" for i, n in dup.items() if n > 1]
        new_codes = collections.Counter(c["gso_code"] for c in codes if c["unit_id"].startswith("H26.C."))
        problems += [f"new code {k} used twice" for k, n in new_codes.items() if n > 1]
        return problems

    check("hanoi_unit_codes.csv covers every commune-level unit", code_file)

    def reform_file() -> list[str]:
        old_ids = {u["unit_id"] for u in old_communes}
        new_ids = {u["unit_id"] for u in new_communes}
        problems = [
            f"{r['old_unit_id']} -> {r['new_unit_id']}"
            for r in reform
            if r["old_unit_id"] not in old_ids or r["new_unit_id"] not in new_ids
        ]
        problems += [f"share {r['share']!r}" for r in reform if r["share"] not in ("whole", "part")]
        problems += [f"article {r['article']!r}" for r in reform if not r["article"].isdigit()]
        pairs = collections.Counter((r["old_unit_id"], r["new_unit_id"]) for r in reform)
        problems += [f"pair {p} twice" for p, n in pairs.items() if n > 1]
        problems += [f"{i} not in the mapping" for i in sorted(old_ids - {r["old_unit_id"] for r in reform})]
        problems += [f"{i} receives nothing" for i in sorted(new_ids - {r["new_unit_id"] for r in reform})]
        articles = [int(r["article"]) for r in reform if r["article"].isdigit()]
        if articles != sorted(articles):
            problems.append("rows are not in the order of the Resolution's khoản")
        per_new = {r["new_unit_id"]: r["article"] for r in reform}
        if sorted(int(a) for a in per_new.values()) != list(range(1, 127)):
            problems.append("each new unit should have its own khoản 1-126")
        targets = collections.defaultdict(list)
        for r in reform:
            targets[r["old_unit_id"]].append(r)
        for old, rows in targets.items():
            if any(r["share"] == "whole" for r in rows) and len(rows) > 1:
                problems.append(f"{old} merged whole and also split")
            if len(rows) == 1 and rows[0]["share"] == "whole" and units[old]["successor_id"] != rows[0]["new_unit_id"]:
                problems.append(f"{old}: successor is not the unit that took it whole")
            if units[old]["successor_id"] != rows[0]["new_unit_id"]:
                problems.append(f"{old}: successor is not the first new unit the Resolution names")
        return problems

    check("hanoi_reform_2025.csv maps every old commune, in the Resolution's order", reform_file)

    failed = 0
    for label, problem in results:
        print(("FAIL " if problem else "ok   ") + label + (f": {problem}" if problem else ""))
        failed += bool(problem)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
