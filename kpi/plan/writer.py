"""The catalogue as YAML text: stable key order, one block per target, readable in review."""

from __future__ import annotations

import json
import re
from datetime import date

import yaml

from kpi.catalogue import Catalogue, Plan, Target

PLAN_KEYS = ("code", "name_zh", "district_zh", "year", "start", "end", "report", "departments")
TARGET_KEYS = (
    "code",
    "name_zh",
    "name_en",
    "section",
    "headline",
    "kind",
    "comparator",
    "value",
    "unit",
    "deadline",
    "firmness",
    "department",
    "supporting",
    "cadence",
    "due_day",
    "pace",
    "profile",
    "baseline",
    "reference",
    "source",
    "notes",
)
# Written only when set: everything else is written always, so a reviewer sees each rule.
_OPTIONAL = {"name_en", "value", "unit", "profile", "baseline", "reference", "notes"}
_BANNER = "  # " + "=" * 83
_PLAIN = re.compile(r"^[^\s'\"#&*!|>%@`{}\[\],?:-][^#]*$")


def scalar(value: object) -> str:
    """One YAML scalar: plain where that reads back as the same value, else double-quoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # 181, not 181.0: reads back as the same number
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if _PLAIN.match(text) and not text.endswith(" ") and ": " not in text:
        try:
            if yaml.safe_load(f"k: {text}") == {"k": text}:
                return text
        except yaml.YAMLError:
            pass
    return json.dumps(text, ensure_ascii=False)


def _flow_list(items) -> str:
    return "[" + ", ".join(scalar(x) for x in items) + "]"


def _baseline(b) -> str:
    parts = [f"value: {scalar(b.value)}", f"unit: {scalar(b.unit)}", f"year: {b.year}"]
    if b.note:
        parts.append(f"note: {scalar(b.note)}")
    return "{" + ", ".join(parts) + "}"


def target_lines(t: Target) -> list[str]:
    """The lines of one target entry, in TARGET_KEYS order."""
    lines = []
    for key in TARGET_KEYS:
        value = getattr(t, key)
        if key in _OPTIONAL and value in (None, "", []):
            continue
        if key == "supporting" or key == "profile":
            text = _flow_list(value)
        elif key == "baseline":
            text = _baseline(value)
        else:
            text = scalar(value)
        lines.append(f"{'  - ' if key == 'code' else '    '}{key}: {text}")
    return lines


def plan_lines(plan: Plan) -> list[str]:
    """The `plan:` block."""
    lines = ["plan:"] + [f"  {k}: {scalar(getattr(plan, k))}" for k in PLAN_KEYS]
    if plan.sections:
        lines.append("  sections:")
        lines += [f"    {scalar(k)}: {scalar(v)}" for k, v in plan.sections.items()]
    if plan.notes:
        lines.append("  notes: |")
        lines += [f"    {line}".rstrip() for line in plan.notes.rstrip("\n").split("\n")]
    return lines


def catalogue_yaml(plan: Plan, targets: list[Target]) -> str:
    """The catalogue file text of a plan and its targets (what `kpi plan import` writes)."""
    out = [
        f"# Target catalogue of plan {plan.code}: {plan.name_zh}.",
        "# Written by `kpi plan import` from the 分解表; edit the 分解表 (kpi plan export) or this",
        "# file, then check it with `python -m kpi.catalogue <this file>`.",
        *plan_lines(plan),
        "",
        "targets:",
    ]
    section = None
    for t in targets:
        if t.section != section:
            section = t.section
            title = plan.sections.get(section, "")
            out += ["", _BANNER, f"  # {section} {title}".rstrip(), _BANNER]
        out += ["", *target_lines(t)]
    return "\n".join(out) + "\n"


def catalogue_text(cat: Catalogue) -> str:
    """The canonical text of a loaded catalogue."""
    return catalogue_yaml(cat.plan, cat.targets)
