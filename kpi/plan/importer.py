"""Rows of a 分解表 back into a plan's catalogue: every row checked, errors in Chinese by row and column."""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from datetime import date, datetime
from pathlib import Path

from pydantic import ValidationError

from kpi.catalogue import (
    COMPARATORS_BY_KIND,
    KIND_ZH,
    NUMERIC_KINDS,
    Catalogue,
    CatalogueError,
    Department,
    Plan,
    Target,
    load_catalogue,
    squash,
)
from kpi.plan.table import (
    BY_KEY,
    CADENCE_ALIASES,
    CADENCE_ZH,
    COMPARATOR_ALIASES,
    COMPARATOR_ZH,
    DEFAULT_DUE_DAY,
    FIRMNESS_LABEL,
    MONTHLY_PLAN_DECIMALS,
    MONTHLY_PLAN_KINDS,
    MONTHLY_PLAN_LABEL,
    REFERENCE_LABEL,
    SEASONAL_LABEL,
)
from kpi.plan.writer import catalogue_yaml
from transforms.progress import (
    PACE_ZH,
    PACES_BY_KIND,
    default_pace,
    profile_from_monthly_plan,
    profile_shortfalls,
)
from transforms.units import UnitError, canonical

CODE = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_TEXT = {"source": 2000, "notes": 2000, "baseline_note": 500, "profile": 500}
MAX_SHORT = 200
_KIND = {v: k for k, v in KIND_ZH.items()} | {k: k for k in KIND_ZH}
_CMP = {v: k for k, v in COMPARATOR_ZH.items()} | COMPARATOR_ALIASES
_CADENCE = {v: k for k, v in CADENCE_ZH.items()} | CADENCE_ALIASES | {k: k for k in CADENCE_ZH}
_PACE = {v: k for k, v in PACE_ZH.items()} | {k: k for k in PACE_ZH}
_FIRM = {v: k for k, v in FIRMNESS_LABEL.items()} | {"": "plain", "无": "plain"}
_REF = {v: k for k, v in REFERENCE_LABEL.items()} | {k: k for k in REFERENCE_LABEL}
_YES = {"是": True, "否": False, "": False, "Y": True, "N": False, "√": True}
_SEP = re.compile(r"[、,，;；/\s]+")
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


class ImportError_(ValueError):
    """The 分解表 has invalid rows: nothing was written. `problems` are Chinese sentences."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            f"分解表有 {len(problems)} 处错误，未写入任何内容：\n" + "\n".join(problems)
        )


def _text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return unicodedata.normalize("NFC", str(v)).strip()


def _number(v: object) -> float | None:
    """A cell as a number (full-width digits and thousands separators folded), else None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    text = unicodedata.normalize("NFKC", _text(v)).replace(",", "").replace(" ", "")
    try:
        x = float(text)
    except ValueError:
        return None
    return x if x == x and abs(x) != float("inf") else None


def _date(v: object) -> date | None:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    m = _DATE.match(unicodedata.normalize("NFKC", _text(v)))
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


class _Row:
    """One row being checked: cell access by column key, problems collected in Chinese."""

    def __init__(self, number: int, cells: dict[str, object], problems: list[str]):
        self.number, self.cells, self.problems = number, cells, problems

    def get(self, key: str) -> object:
        return self.cells.get(BY_KEY[key].header)

    def text(self, key: str) -> str:
        value = _text(self.get(key))
        limit = MAX_TEXT.get(key, MAX_SHORT)
        if len(value) > limit:
            self.bad(key, f"内容过长（{len(value)} 字，上限 {limit}）")
            return value[:limit]
        return value

    def bad(self, key: str, reason: str) -> None:
        self.problems.append(f"第{self.number}行“{BY_KEY[key].header}”列：{reason}")


def _departments(row: _Row, key: str, resolve) -> list[str]:
    names = [n for n in _SEP.split(row.text(key)) if n]
    codes = []
    for n in names:
        d = resolve(n)
        if d is None:
            row.bad(key, f"未知单位“{n}”（部门名录中没有，请用名录中的简称或全称）")
        else:
            codes.append(d.code)
    return codes


def row_to_target(
    row: _Row,
    plan: Plan,
    resolve,
    report: str,
    floors: tuple[float, ...],
    monthly_plans: dict | None = None,
) -> Target | None:
    """The target a row describes, or None with the row's problems recorded.

    `monthly_plans` (target code -> 12 amounts, from config/status.toml for this plan code) are
    what a 月度计划 shown in 各月累计进度 is checked against; they are never written here.
    """
    before = len(row.problems)
    entry: dict[str, object] = {}
    name = row.text("name_zh")
    if not name:
        row.bad("name_zh", "不能为空")
    source = row.text("source")
    if not source:
        row.bad("source", "不能为空：请粘贴报告中的原句")
    elif squash(source) not in report:
        row.bad("source", "在报告原文中找不到这段话（空格、换行不计），请从报告中原样复制")
    kind_text = row.text("kind")
    kind = _KIND.get(kind_text)
    if kind is None:
        row.bad("kind", f"未知类型“{kind_text}”，应为：{'、'.join(KIND_ZH.values())}")
    cmp_text = row.text("comparator")
    comparator = _CMP.get(cmp_text)
    if comparator is None:
        row.bad("comparator", f"无法识别“{cmp_text}”，应为：≥、≤、>、完成")
    elif kind and comparator not in COMPARATORS_BY_KIND[kind]:
        fits = "、".join(COMPARATOR_ZH[c] for c in COMPARATORS_BY_KIND[kind])
        row.bad("comparator", f"“{cmp_text}”与类型“{KIND_ZH[kind]}”不符，应为：{fits}")
    raw_value = row.get("value")
    value = _number(raw_value)
    unit = row.text("unit")
    if kind in NUMERIC_KINDS:
        if raw_value in (None, ""):
            row.bad("value", f"“{KIND_ZH[kind]}”必须填写目标值")
        elif value is None:
            row.bad("value", f"“{_text(raw_value)}”不是数字")
        if not unit:
            row.bad("unit", f"“{KIND_ZH[kind]}”必须填写单位")
    elif kind and raw_value not in (None, ""):
        row.bad("value", f"“{KIND_ZH[kind]}”不填目标值（填了“{_text(raw_value)}”）")
    if unit:
        try:
            canonical(unit)
        except UnitError:
            row.bad("unit", f"未知计量单位“{unit}”")
    deadline = _date(row.get("deadline"))
    if deadline is None:
        row.bad("deadline", f"“{_text(row.get('deadline'))}”不是日期（如 2023-06-30）")
    elif not plan.start <= deadline <= plan.end:
        row.bad("deadline", f"{deadline.isoformat()} 不在计划年度（{plan.start}至{plan.end}）内")
    lead = _departments(row, "department", resolve)
    if not row.text("department"):
        row.bad("department", "不能为空")
    elif len(lead) > 1:
        row.bad("department", "只能填一个牵头单位（配合单位填在“责任单位”）")
    supporting = _departments(row, "supporting", resolve)
    cadence_text = row.text("cadence")
    cadence = _CADENCE.get(cadence_text)
    if cadence is None:
        row.bad("cadence", f"无法识别“{cadence_text}”，应为：{'、'.join(CADENCE_ZH.values())}")
    firmness = _FIRM.get(row.text("firmness"))
    if firmness is None:
        row.bad("firmness", f"无法识别“{row.text('firmness')}”，应为：确保、力争、一般")
    headline = _YES.get(row.text("headline").upper())
    if headline is None:
        row.bad("headline", "应为“是”或“否”")
    profile = _curves(row, floors, kind, monthly_plans or {})
    baseline = _baseline(row, plan)
    pace_text = row.text("pace")
    pace = _PACE.get(pace_text) if pace_text else None
    if pace_text and pace is None:
        row.bad("pace", f"无法识别“{pace_text}”，应为：{'、'.join(PACE_ZH.values())}")
    elif kind:
        pace = pace or default_pace(kind, profile is not None, baseline is not None)
        if pace not in PACES_BY_KIND[kind]:
            fits = "、".join(PACE_ZH[p] for p in PACES_BY_KIND[kind])
            row.bad("pace", f"“{PACE_ZH[pace]}”不适用于“{KIND_ZH[kind]}”，可选：{fits}")
        elif pace == "seasonal" and profile is None and not _seasonal_written(row):
            row.bad("profile", "“季节曲线”须填写 12 个月末累计进度")
        elif profile is not None and pace != "seasonal":
            row.bad("profile", "只有“季节曲线”填写各月累计进度")
    reference_text = row.text("reference")
    reference = _REF.get(reference_text) if reference_text else None
    if reference_text and reference is None:
        row.bad(
            "reference", f"无法识别“{reference_text}”，应为：{'、'.join(REFERENCE_LABEL.values())}"
        )
    elif kind == "relative" and reference is None:
        row.bad("reference", "相对目标须填写参照（如全市平均）")
    due_day = _number(row.get("due_day")) if row.get("due_day") not in (None, "") else None
    if (
        due_day is None
        and row.get("due_day") not in (None, "")
        or due_day is not None
        and (not due_day.is_integer() or not 1 <= due_day <= 28)
    ):
        row.bad("due_day", f"“{_text(row.get('due_day'))}”不是 1–28 之间的整数")
    code = row.text("code")
    if code and not CODE.match(code):
        row.bad("code", f"“{code}”不合规：只能用小写英文字母、数字和下划线，以字母开头")
    if len(row.problems) > before:
        return None
    entry = {
        "code": code or "",
        "name_zh": name,
        "name_en": row.text("name_en"),
        "section": row.text("section"),
        "headline": headline,
        "kind": kind,
        "comparator": comparator,
        "value": value if kind in NUMERIC_KINDS else None,
        "unit": unit or None,
        "deadline": deadline,
        "firmness": firmness,
        "department": lead[0],
        "supporting": supporting,
        "cadence": cadence,
        "due_day": int(due_day) if due_day is not None else DEFAULT_DUE_DAY.get(kind, 10),
        "baseline": baseline,
        "source": source,
        "notes": row.text("notes"),
        "profile": profile,
        "pace": pace,
        "reference": reference,
    }
    return entry  # validated as a Target once codes are settled


_CURVE_LABEL = re.compile(rf"({MONTHLY_PLAN_LABEL}|{SEASONAL_LABEL})\s*:")


def _segments(text: str) -> dict[str, str] | str:
    """各月累计进度 split by its labels: {"": bare curve} or {label: curve}; else a problem."""
    text = unicodedata.normalize("NFKC", text)
    marks = list(_CURVE_LABEL.finditer(text))
    if not marks:
        return {"": text} if text.strip() else {}
    if text[: marks[0].start()].strip(" ;,、"):
        return f"“{MONTHLY_PLAN_LABEL}：”或“{SEASONAL_LABEL}：”之前不能有其他内容"
    out: dict[str, str] = {}
    for i, m in enumerate(marks):
        if m[1] in out:
            return f"“{m[1]}”出现了两次"
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out[m[1]] = text[m.end() : end].strip(" ;")
    return out


def _seasonal_written(row: _Row) -> bool:
    """Whether the row writes a catalogue curve (bare, or after 季节曲线：); a cell whose labels
    are malformed counts as written (that problem is reported once, by `_curves`)."""
    parts = _segments(row.text("profile"))
    return isinstance(parts, str) or bool(parts.get("") or parts.get(SEASONAL_LABEL))


def _curves(row: _Row, floors, kind: str | None, monthly_plans: dict) -> list[float] | None:
    """The catalogue curve of 各月累计进度; a 月度计划 shown beside it must match config."""
    parts = _segments(row.text("profile"))
    if isinstance(parts, str):
        row.bad("profile", parts)
        return None
    if MONTHLY_PLAN_LABEL in parts:
        _check_monthly_plan(row, parts[MONTHLY_PLAN_LABEL], kind, monthly_plans)
    text = parts.get("", parts.get(SEASONAL_LABEL, ""))
    return _profile(row, floors, text) if text else None


def _percents(text: str) -> list[float] | None:
    """12 percentages written in a cell ("4,10,…,100", "%" optional), else None."""
    parts = [p for p in _SEP.split(unicodedata.normalize("NFKC", text).replace("%", "")) if p]
    nums = [_number(p) for p in parts]
    return None if len(nums) != 12 or any(x is None for x in nums) else nums


def _check_monthly_plan(row: _Row, text: str, kind: str | None, monthly_plans: dict) -> None:
    """A 月度计划 in the table is config/status.toml's, shown for review: it must match it."""
    where = "config/status.toml 的 [monthly_plans]"
    if kind is not None and kind not in MONTHLY_PLAN_KINDS:
        row.bad("profile", "只有累计量、累计数按月度计划计算序时进度")
        return
    code = row.text("code")
    amounts = monthly_plans.get(code) if code else None
    if amounts is None:
        row.bad(
            "profile",
            f"{where}中没有本计划“{code or '（未填指标代码）'}”的月度计划：月度计划只能在该文件中"
            f"设置；不需要时请删去“{MONTHLY_PLAN_LABEL}：…”",
        )
        return
    shown = _percents(text)
    if shown is None:
        row.bad("profile", f"“{MONTHLY_PLAN_LABEL}”应为 12 个数字（1–12 月末累计百分比）")
        return
    want = [x * 100 for x in profile_from_monthly_plan(amounts, code)]
    tolerance = 0.5 * 10**-MONTHLY_PLAN_DECIMALS + 1e-9  # what two decimals can hide
    for month, (got, expected) in enumerate(zip(shown, want, strict=True), start=1):
        if abs(got - expected) > tolerance:
            row.bad(
                "profile",
                f"月度计划与{where}不一致（{month}月末：表中 {got:g}%，配置为 {expected:.2f}%）："
                "要修改月度计划，请改该文件",
            )
            return


def _profile(row: _Row, floors, text: str) -> list[float] | None:
    nums = _percents(text)
    if nums is None:
        row.bad("profile", f"应为 12 个数字（1–12 月末累计百分比），实际为“{text}”")
        return None
    shares = [x / 100 for x in nums]
    if any(b < a for a, b in zip(shares, shares[1:], strict=False)) or abs(shares[-1] - 1) > 1e-9:
        row.bad("profile", "各月累计进度不能减少，12 月必须为 100")
        return None
    for q, share, floor in profile_shortfalls(shares, floors):
        row.bad(
            "profile",
            f"第{q}季度末只安排了{share * 100:.10g}%，低于下限{floor * 100:.10g}%"
            "（季节曲线可以后置，但不能掩盖滞后）",
        )
    return shares


def _baseline(row: _Row, plan: Plan) -> dict | None:
    raw = row.get("baseline_value")
    if raw in (None, ""):
        return None
    value = _number(raw)
    if value is None:
        row.bad("baseline_value", f"“{_text(raw)}”不是数字")
        return None
    unit = row.text("baseline_unit")
    if not unit:
        row.bad("baseline_unit", "填写了基数值，须同时填写基数单位")
        return None
    year_raw = row.get("baseline_year")
    year = _number(year_raw) if year_raw not in (None, "") else plan.year - 1
    if year is None or not float(year).is_integer():
        row.bad("baseline_year", f"“{_text(year_raw)}”不是年份")
        return None
    return {"value": value, "unit": unit, "year": int(year), "note": row.text("baseline_note")}


def _plan(info: dict[str, object], code: str, report_name: str | None) -> tuple[Plan | None, list]:
    problems: list[str] = []
    sections = {
        k.removeprefix("章节").strip(): _text(v)
        for k, v in info.items()
        if k.startswith("章节") and k.removeprefix("章节").strip()
    }
    year = _number(info.get("年度"))
    start, end = _date(info.get("开始日期")), _date(info.get("结束日期"))
    if year is not None and year.is_integer():
        start = start or date(int(year), 1, 1)
        end = end or date(int(year), 12, 31)
    doc = {
        "code": code,
        "name_zh": _text(info.get("计划名称")) or code,
        "district_zh": _text(info.get("区县")),
        "year": int(year) if year is not None and year.is_integer() else None,
        "start": start,
        "end": end,
        "report": report_name or _text(info.get("报告文件")),
        "departments": _text(info.get("部门名录")) or "departments.yaml",
        "notes": _text(info.get("说明")),
        "sections": sections,
    }
    labels = {"year": "年度", "district_zh": "区县", "report": "报告文件", "code": "计划代码"}
    for key, label in labels.items():
        if doc[key] in (None, ""):
            problems.append(f"“计划信息”工作表：“{label}”不能为空")
    if problems:
        return None, problems
    try:
        return Plan.model_validate(doc), []
    except ValidationError as exc:
        for e in exc.errors():
            field = labels.get(str(e["loc"][0]), str(e["loc"][0]))
            problems.append(f"“计划信息”工作表：“{field}”不合规（{e['msg']}）")
        return None, problems


def build_catalogue(
    sheet,
    code: str,
    folder: Path,
    floors: tuple[float, ...],
    report_name: str | None = None,
    monthly_plans: dict | None = None,
) -> tuple[Plan, list[Target]]:
    """Plan and targets from a read 分解表, or ImportError_ naming every bad row and column."""
    plan, problems = _plan(sheet.info, code, report_name)
    if plan is None:
        raise ImportError_(problems)
    try:
        report = squash((folder / plan.report).read_text(encoding="utf-8"))
    except OSError as exc:
        why = f"找不到报告原文 {folder / plan.report}：请用 --report 指定报告文件"
        raise ImportError_([why]) from exc
    register = _register(folder / plan.departments)
    if isinstance(register, str):
        raise ImportError_([register])
    resolve = Catalogue(plan=plan, targets=[], departments=register).resolve_department
    entries: list[tuple[int, dict]] = []
    for number, cells in sheet.rows:
        row = _Row(number, cells, problems)
        entry = row_to_target(row, plan, resolve, report, floors, monthly_plans)
        if entry is not None:
            entries.append((number, entry))
    if not sheet.rows:
        problems.append("“分解表”中没有任何任务行")
    problems += _duplicates(entries)
    if problems:
        raise ImportError_(problems)
    taken = {e["code"] for _, e in entries if e["code"]}
    targets = []
    for seq, (number, e) in enumerate(entries, start=1):
        if not e["code"]:
            e["code"] = _new_code(seq, taken)
        try:
            targets.append(Target.model_validate(e))
        except ValidationError as exc:  # a guard: the checks above cover the schema
            problems += [f"第{number}行：{err['loc']} {err['msg']}" for err in exc.errors()]
    if problems:
        raise ImportError_(problems)
    return plan, targets


def _register(path: Path) -> list[Department] | str:
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        return [Department.model_validate(d) for d in doc["departments"]]
    except OSError:
        return f"找不到部门名录 {path}：请把 catalogue/departments.yaml 复制过去并按本地区单位修改"
    except (yaml.YAMLError, KeyError, TypeError, ValidationError) as exc:
        return f"部门名录 {path.name} 格式有误：{exc}"


def _duplicates(entries: list[tuple[int, dict]]) -> list[str]:
    out: list[str] = []
    by_code: dict[str, int] = {}
    by_name: dict[str, tuple[int, tuple]] = {}
    for number, e in entries:
        if e["code"] and e["code"] in by_code:
            out.append(f"第{number}行“指标代码”列：“{e['code']}”与第{by_code[e['code']]}行重复")
        by_code.setdefault(e["code"], number)
        key = (squash(e["source"]), e["value"], e["deadline"])
        if e["name_zh"] in by_name:
            first, first_key = by_name[e["name_zh"]]
            why = "重复（同一原文、目标值和完成时限）" if key == first_key else "同名，请加以区分"
            out.append(f"第{number}行“目标任务”列：“{e['name_zh']}”与第{first}行{why}")
        by_name.setdefault(e["name_zh"], (number, key))
    return out


def _new_code(seq: int, taken: set[str]) -> str:
    code, n = f"t{seq:03d}", 1
    while code in taken:
        n += 1
        code = f"t{seq:03d}_{n}"
    taken.add(code)
    return code


def write_catalogue(plan: Plan, targets: list[Target], folder: Path, floors) -> Path:
    """Write <folder>/<plan>.yaml atomically, after loading it back through the schema."""
    folder.mkdir(parents=True, exist_ok=True)
    text = catalogue_yaml(plan, targets)
    fd, tmp = tempfile.mkstemp(prefix=f".{plan.code}.", suffix=".yaml", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        try:
            load_catalogue(tmp, floors=floors)
        except CatalogueError as exc:
            raise ImportError_([f"写入前校验失败：{p}" for p in exc.problems]) from exc
        target = folder / f"{plan.code}.yaml"
        os.replace(tmp, target)
        return target
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
