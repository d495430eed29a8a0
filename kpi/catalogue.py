"""The target catalogue of a plan: loaded from YAML, validated against a typed schema."""

from __future__ import annotations

import difflib
import hashlib
import re
import sys
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from kpi.catalogue_view import (  # noqa: F401 - re-exported: kpi.catalogue's names
    FIRMNESS_ZH,
    KINDS,
    MAX_NAME_CHARS,
    NUMERIC_KINDS,
    Plain,
    PlainCatalogue,
    PlainTarget,
    RegisterLookup,
    TargetReading,
    department_names,
    find_department,
    fold_name,
    name_variants,
)
from transforms.progress import PACES_BY_KIND, default_pace, profile_shortfalls, quarter_floors
from transforms.units import UnitError, canonical

CADENCES = ("monthly", "quarterly", "half_yearly", "annual")
PACES = ("linear", "seasonal", "path", "direct", "dated")  # 序时进度曲线: transforms.progress
# Which comparators fit which kind (a ceiling is only ever "<=").
COMPARATORS_BY_KIND = {
    "growth_rate": (">=", ">"),  # a fall ("下降 3%") is a ceiling on the rate
    "cumulative": (">=", ">"),
    "count": (">=", ">"),
    "level": (">=", ">", "<="),
    "ceiling": ("<=",),
    "relative": (">=", ">"),
    "milestone": ("done",),
    "qualitative": ("done",),
}
REFERENCES = ("city_average", "district_average", "province_average", "national_average")
# How each reference series is named for people (progress texts, the 分解表, reports).
REFERENCE_ZH = {
    "city_average": "全市平均",
    "district_average": "全区平均",
    "province_average": "全省平均",
    "national_average": "全国平均",
}
KIND_ZH = {
    "growth_rate": "增速",
    "cumulative": "累计量",
    "count": "累计数",
    "level": "时点值",
    "ceiling": "上限",
    "milestone": "节点任务",
    "relative": "相对目标",
    "qualitative": "定性任务",
}
_PLAN_CODE = re.compile(r"[a-z][a-z0-9-]*")
_FOOTER = re.compile(r"—\s*\d+\s*—")
_SPACE = re.compile(r"\s+")


class CatalogueError(ValueError):
    """The catalogue breaks its schema; the message names every entry and field at fault."""

    def __init__(self, path: Path, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"catalogue {path.name}: {len(problems)} problem(s)\n{lines}")


class Department(BaseModel):
    """One department of the register."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    short_zh: str
    route: str
    # Other names clerks write for it (common abbreviations, former names). The district prefix
    # (红旗区…, 区…) is never needed here: department_names adds it.
    aliases: list[str] = []


class Baseline(BaseModel):
    """The previous year's figure given in the report's review."""

    model_config = ConfigDict(extra="forbid")
    value: float
    unit: str
    year: int
    note: str = ""


class Target(TargetReading, BaseModel):
    """One checkable commitment of the plan."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    name_en: str = ""
    section: str
    headline: bool = False
    kind: str
    comparator: Literal[">=", "<=", ">", "done"]
    value: float | None = None
    unit: str | None = None
    deadline: date
    firmness: Literal["firm", "aspirational", "plain"]
    department: str
    supporting: list[str] = []
    cadence: Literal["monthly", "quarterly", "half_yearly", "annual"]
    due_day: int = Field(ge=1, le=28)
    baseline: Baseline | None = None
    source: str
    notes: str = ""
    profile: list[float] | None = None
    pace: Literal["linear", "seasonal", "path", "direct", "dated"] | None = None
    reference: (
        Literal["city_average", "district_average", "province_average", "national_average"] | None
    ) = None
    period_basis: Literal["ytd"] = "ytd"

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError(f"unknown kind {v!r}, expected one of {', '.join(KINDS)}")
        return v

    @model_validator(mode="after")
    def _pace_from_kind(self) -> Target:
        # A plan that names no rule keeps the behaviour it had before rules were named.
        if self.pace is None and self.kind in KINDS:
            self.pace = default_pace(self.kind, self.profile is not None, self.baseline is not None)
        return self

    def record(self) -> dict:
        """The target as a flat dict: what `kpi targets --json` prints and ref.targets holds."""
        return {
            "code": self.code,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "section": self.section,
            "headline": self.headline,
            "kind": self.kind,
            "comparator": self.comparator,
            "value": self.value,
            "unit": self.unit,
            "canonical_value": self.canonical_value,
            "canonical_unit": self.canonical_unit,
            "deadline": self.deadline,
            "firmness": self.firmness,
            "department": self.department,
            "supporting": list(self.supporting),
            "cadence": self.cadence,
            "due_day": self.due_day,
            "baseline": self.baseline.model_dump() if self.baseline else None,
            "reference": self.reference,
            "profile": self.profile,
            "pace": self.pace,
            "source": self.source,
        }


class Plan(BaseModel):
    """A plan: one district's targets for one year."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name_zh: str
    district_zh: str
    year: int
    start: date
    end: date
    report: str
    departments: str
    notes: str = ""  # conventions of the plan, kept through 分解表 round trips
    sections: dict[str, str] = {}  # section code -> its title in the report


class Catalogue(RegisterLookup, BaseModel):
    """A validated plan with its targets and department register."""

    plan: Plan
    targets: list[Target]
    departments: list[Department]
    sha256: str = ""  # of the catalogue file, recorded in ref.plans
    _names: dict[str, Department] | None = PrivateAttr(default=None)

    def target(self, code: str) -> Target:
        """The target with this code (KeyError if none)."""
        return self._by_code()[code]

    def department(self, code: str) -> Department:
        """The department with this code (KeyError if none)."""
        return {d.code: d for d in self.departments}[code]

    def _by_code(self) -> dict[str, Target]:
        return {t.code: t for t in self.targets}

    def targets_of(self, department: str) -> list[Target]:
        """The targets a department leads."""
        return [t for t in self.targets if t.department == department]

    def closest_departments(self, text: str, n: int = 3) -> list[Department]:
        """The registered departments whose Chinese names look most like `text`, best first."""
        keys = name_variants(text, self.plan.district_zh)
        scored = []
        for i, d in enumerate(self.departments):
            names = {
                k
                for written in (d.name_zh, d.short_zh, *d.aliases)
                for k in name_variants(written, self.plan.district_zh)
            }
            score = max((_likeness(a, b) for a in keys for b in names), default=0.0)
            if score >= 0.4:
                scored.append((-score, i, d))
        return [d for _, _, d in sorted(scored)[:n]]

    def unknown_department_zh(self, text: str, *, list_all: bool = False) -> str:
        """The Chinese message for a name the register does not know, with the closest ones."""
        shown = _SPACE.sub(" ", str(text or "")).strip()
        shown = shown if len(shown) <= 30 else shown[:30] + "…"
        msg = f"未知单位“{shown}”" if fold_name(text) else "未填写单位"
        near = self.closest_departments(text)
        if near:
            msg += "；最接近的已登记单位：" + "、".join(
                f"{d.short_zh}（{d.name_zh}）" for d in near
            )
        if list_all or not near:
            msg += "；已登记单位：" + "、".join(d.short_zh for d in self.departments)
        return msg

    def require_department(self, text: str) -> Department:
        """resolve_department, or UnknownDepartmentError naming the closest registered names."""
        dept = self.resolve_department(text)
        if dept is None:
            raise UnknownDepartmentError(self.unknown_department_zh(text, list_all=True))
        return dept

    def plain(self) -> PlainCatalogue:
        """A copy without pydantic, for the parsing workers (kpi.catalogue_view); made once."""
        # Kept apart, not in a private attribute: those take part in a model's equality.
        hit = _PLAIN.get(id(self))
        if hit is None or hit[0] is not self:
            if len(_PLAIN) >= 256:  # a long-lived process: forget old catalogues' copies
                _PLAIN.clear()
            hit = _PLAIN[id(self)] = (self, plain_copy(self))
        return hit[1]


class UnknownDepartmentError(LookupError):
    """A department name the register does not know; the message is Chinese, for people."""


# id -> (catalogue, its plain copy); the catalogue is held so that its id stays its own
_PLAIN: dict[int, tuple[Catalogue, PlainCatalogue]] = {}


def plain_copy(value):
    """A model as plain objects (kpi.catalogue_view), every field kept; other values as they are."""
    if isinstance(value, BaseModel):
        cls = {Catalogue: PlainCatalogue, Target: PlainTarget}.get(type(value), Plain)
        return cls({k: plain_copy(v) for k, v in value.__dict__.items()})
    if isinstance(value, list):
        return [plain_copy(v) for v in value]
    return value


def _likeness(a: str, b: str) -> float:
    """How alike two folded names are: difflib's ratio, or their characters in common (Dice)."""
    ratio = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    sa, sb = set(a), set(b)
    common = 2 * len(sa & sb) / max(len(sa) + len(sb), 1)
    return max(ratio, 0.9 * common)


def squash(text: str) -> str:
    """Text with page footers and all whitespace removed, for source matching."""
    return _SPACE.sub("", _FOOTER.sub("", text))


def _loc(entry: object, index: int) -> str:
    code = entry.get("code") if isinstance(entry, dict) else None
    return f"target #{index + 1} {code!r}" if code else f"target #{index + 1}"


def _check_target(
    t: Target, plan: Plan, dept_codes: set[str], report: str, floors: tuple[float, ...]
) -> list[str]:
    where = f"target {t.code!r}"
    out: list[str] = []
    if t.kind in NUMERIC_KINDS:
        if t.value is None:
            out.append(f"{where} field 'value': kind {t.kind} needs a numeric value")
        if not t.unit:
            out.append(f"{where} field 'unit': kind {t.kind} needs a unit")
    if t.comparator not in COMPARATORS_BY_KIND.get(t.kind, (t.comparator,)):
        fits = ", ".join(repr(c) for c in COMPARATORS_BY_KIND[t.kind])
        out.append(f"{where} field 'comparator': kind {t.kind} uses {fits}, not {t.comparator!r}")
    if t.unit:
        try:
            canonical(t.unit)
        except UnitError:
            out.append(f"{where} field 'unit': unknown unit {t.unit!r}")
    if not plan.start <= t.deadline <= plan.end:
        out.append(
            f"{where} field 'deadline': {t.deadline} is outside the plan window "
            f"{plan.start}..{plan.end}"
        )
    if t.department not in dept_codes:
        out.append(f"{where} field 'department': {t.department!r} is not in the register")
    for s in t.supporting:
        if s not in dept_codes:
            out.append(f"{where} field 'supporting': {s!r} is not in the register")
    if squash(t.source) not in report:
        out.append(f"{where} field 'source': sentence not found in the report: {t.source!r}")
    if t.pace not in PACES_BY_KIND.get(t.kind, ()):
        fits = ", ".join(PACES_BY_KIND.get(t.kind, ()))
        out.append(f"{where} field 'pace': {t.pace!r} does not fit kind {t.kind} ({fits})")
    if t.pace == "seasonal" and t.profile is None:
        out.append(f"{where} field 'profile': pace 'seasonal' needs 12 monthly shares")
    if t.profile is not None:
        p = t.profile
        if t.kind not in ("cumulative", "count"):
            out.append(f"{where} field 'profile': only cumulative and count targets take one")
        elif t.pace != "seasonal":
            out.append(f"{where} field 'profile': only pace 'seasonal' takes a profile")
        if (
            len(p) != 12
            or any(b < a for a, b in zip(p, p[1:], strict=False))
            or abs(p[-1] - 1) > 1e-9
        ):
            out.append(f"{where} field 'profile': 12 non-decreasing fractions ending at 1.0")
        else:
            for q, share, floor in profile_shortfalls(p, floors):
                out.append(
                    f"{where} field 'profile': expects {share:.0%} by the end of Q{q}, below "
                    f"the floor of {floor:.0%} (config/status.toml [profile] max_trail_pp)"
                )
    if t.kind == "relative" and t.reference is None:
        out.append(f"{where} field 'reference': a relative target names its reference series")
    return out


def profile_floors() -> tuple[float, ...]:
    """The quarter floors of seasonal curves, from the configured status thresholds."""
    import tomllib

    from kpi.config import settings

    try:
        with open(settings().status_config, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError:
        doc = {}
    return quarter_floors(float(doc.get("profile", {}).get("max_trail_pp", 15.0)))


def load_catalogue(path: Path | str, floors: tuple[float, ...] | None = None) -> Catalogue:
    """Load and validate a catalogue file; raise CatalogueError naming every problem."""
    import yaml  # here: a run reads the validated catalogue from its JSON cache (~10 ms less)

    # libyaml's loader when PyYAML has it: the same documents, ~0.1 CPU-s less for the bundled
    # plan, which every `kpi` command (a night's, a clerk's, a test's) reads once
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    path = Path(path)
    floors = profile_floors() if floors is None else floors
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogueError(path, [f"cannot read: {exc}"]) from exc
    problems: list[str] = []
    if not isinstance(doc, dict) or "plan" not in doc or "targets" not in doc:
        raise CatalogueError(path, ["top level must have 'plan' and 'targets'"])
    try:
        plan = Plan.model_validate(doc["plan"])
    except ValidationError as exc:
        raise CatalogueError(
            path, [f"plan field {_fields(e)}: {e['msg']}" for e in exc.errors()]
        ) from exc
    dept_path = path.parent / plan.departments
    try:
        reg = yaml.load(dept_path.read_text(encoding="utf-8"), Loader=loader)
        departments = [Department.model_validate(d) for d in reg["departments"]]
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValidationError) as exc:
        raise CatalogueError(path, [f"department register {dept_path.name}: {exc}"]) from exc
    dept_codes = {d.code for d in departments}
    _, clashes = department_names(departments, plan.district_zh)
    if clashes:
        raise CatalogueError(path, [f"department register {dept_path.name}: {c}" for c in clashes])
    try:
        report = squash((path.parent / plan.report).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(path, [f"plan field 'report': cannot read {plan.report}"]) from exc

    targets: list[Target] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(doc["targets"] or []):
        try:
            t = Target.model_validate(entry)
        except ValidationError as exc:
            problems += [f"{_loc(entry, i)} field {_fields(e)}: {e['msg']}" for e in exc.errors()]
            continue
        if t.code in seen:
            problems.append(
                f"target {t.code!r} field 'code': duplicate code (also #{seen[t.code] + 1})"
            )
        seen.setdefault(t.code, i)
        problems += _check_target(t, plan, dept_codes, report, floors)
        targets.append(t)
    if problems:
        raise CatalogueError(path, problems)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return Catalogue(plan=plan, targets=targets, departments=departments, sha256=sha)


def _fields(err: dict) -> str:
    return "'" + ".".join(str(x) for x in err["loc"]) + "'"


@lru_cache(maxsize=8)
def _cached(path: str, mtime: float) -> Catalogue:
    return load_catalogue(path)


def get_catalogue(plan: str | None = None) -> Catalogue:
    """The validated catalogue of a plan from the configured folder (cached per file version)."""
    from kpi.config import settings

    p = settings().catalogue_path(plan)
    # A plan code is a file name under the catalogue folder: nothing else (no "../").
    if not _PLAN_CODE.fullmatch(str(plan or settings().plan)) or not p.is_file():
        raise UnknownPlanError(plan or settings().plan, p)
    return _cached(str(p), p.stat().st_mtime)


class UnknownPlanError(FileNotFoundError):
    """No catalogue file for a plan code; the message is Chinese and lists the plans there are."""

    def __init__(self, plan: str, path: Path):
        known = sorted(
            q.stem
            for q in path.parent.glob("*.yaml")
            if _PLAN_CODE.fullmatch(q.stem) and q.stem != "departments"
        )
        shown = str(plan)[:40]
        have = "、".join(known[:20]) + ("…" if len(known) > 20 else "") if known else "无"
        super().__init__(f"未知计划“{shown}”：找不到目标清单 {path}（已有计划：{have}）")
        self.plan = plan


if __name__ == "__main__":
    try:
        cat = load_catalogue(sys.argv[1])
    except CatalogueError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
    kinds: dict[str, int] = {}
    for t in cat.targets:
        kinds[t.kind] = kinds.get(t.kind, 0) + 1
    print(f"ok: {len(cat.targets)} targets {kinds}, {len(cat.departments)} departments")
