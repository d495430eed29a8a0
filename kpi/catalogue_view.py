"""A catalogue as the parsing workers hold it: plain objects, no pydantic (see kpi.catalogue).

A worker parses a file against its plan's targets and department register. Unpickling
kpi.catalogue's pydantic models made every worker import pydantic and build the models: about
half of a worker's start (BENCHMARKS.md, "Test suite, part B, third pass"). The register's name
matching and the targets' properties are defined here once; kpi.catalogue's models inherit them.
"""

from __future__ import annotations

import re
import unicodedata

from transforms.units import canonical

KINDS = (
    "growth_rate",  # year-to-date growth vs same period last year, compared unscaled
    "cumulative",  # an amount accumulated over the year, judged against 序时进度
    "count",  # a number of things accumulated over the year, judged against 序时进度
    "level",  # a value at a point in time
    "ceiling",  # must never exceed
    "milestone",  # a dated event
    "relative",  # better than a reference series (city or district average)
    "qualitative",  # checkable without a number: done or not by the end of the plan
)
NUMERIC_KINDS = ("growth_rate", "cumulative", "count", "level", "ceiling", "relative")
FIRMNESS_ZH = {"firm": "确保", "aspirational": "力争", "plain": ""}

# Clerks' text: bounded before any comparison (difflib is quadratic in the length).
MAX_NAME_CHARS = 60
RESOLVED_KEPT = 4096  # resolved names a catalogue's plain copy keeps (a worker's memory)
_NAME_NOISE = re.compile(r"[\s\u3000·・.．,，、;；:：()（）\[\]【】<>《》\"'“”‘’_-]+")


def fold_name(text: object) -> str:
    """A name folded for comparison: NFKC (full-width to half-width), no spaces or punctuation."""
    folded = unicodedata.normalize("NFKC", str(text or "")[: MAX_NAME_CHARS * 4])
    return _NAME_NOISE.sub("", folded).lower()[:MAX_NAME_CHARS]


def name_variants(text: object, district_zh: str) -> list[str]:
    """`text` folded, then without the district's prefix (红旗区…, 区…, …红旗区…), most exact first.

    The prefix is the plan's own district (from the catalogue), never a hard-coded one; its
    level character (区, 县, 市, 旗) alone also counts as a prefix, as in 区人社局.
    """
    key = fold_name(text)
    if not key:
        return []
    district = fold_name(district_zh)
    out = [key]
    rest = key
    if district and district in rest:
        # 红旗区人社局, 新乡市红旗区人社局, 国家税务总局新乡市红旗区税务局
        rest = rest.split(district, 1)[1]
        out.append(rest)
    level = district[-1:] if district[-1:] in ("区", "县", "市", "旗") else ""
    if level and rest.startswith(level) and len(rest) > 1:
        out.append(rest[1:])
    return [k for i, k in enumerate(out) if k and k not in out[:i]]


def department_names(departments: list, district_zh: str) -> tuple[dict[str, object], list[str]]:
    """Every accepted folded name -> its department; and the names claimed by two departments."""
    names: dict[str, object] = {}
    clashes: list[str] = []
    for d in departments:
        for written in (d.code, d.name_zh, d.short_zh, *d.aliases):
            for key in name_variants(written, district_zh):
                other = names.setdefault(key, d)
                if other.code != d.code:
                    clashes.append(f"name {written!r} names both {other.code} and {d.code}")
    return names, clashes


def find_department(names: dict[str, object], text: object, district_zh: str):
    """The department `text` names among a register's folded names (`department_names`)."""
    for key in name_variants(text, district_zh):
        if key in names:
            return names[key]
    return None


class TargetReading:
    """What a target's fields say beyond themselves (kpi.catalogue.Target and its plain copy)."""

    @property
    def numeric(self) -> bool:
        """Whether the target carries a number to compare with."""
        return self.kind in NUMERIC_KINDS

    @property
    def canonical_unit(self) -> str | None:
        """The unit values of this target are stored in."""
        return canonical(self.unit)[0] if self.unit else None

    @property
    def canonical_value(self) -> float | None:
        """The target value in the canonical unit."""
        if self.value is None or not self.unit:
            return self.value
        return self.value * canonical(self.unit)[1]

    @property
    def firmness_zh(self) -> str:
        """确保 / 力争 / empty."""
        return FIRMNESS_ZH[self.firmness]


class RegisterLookup:
    """Finding a department by what clerks write (kpi.catalogue.Catalogue and its plain copy)."""

    def resolve_department(self, text: str):
        """The department named by a code, a name or alias, with or without the district prefix.

        The one lookup of the register: ingest's 填报单位, every `-d` option and the templates
        call it. None if the text names no registered department.
        """
        return find_department(self._department_names(), text, self.plan.district_zh)

    def _department_names(self) -> dict:
        if self._names is None:
            self._names, _ = department_names(self.departments, self.plan.district_zh)
        return self._names

    def by_code(self) -> tuple[dict, dict]:
        """(targets, departments) by code."""
        return {t.code: t for t in self.targets}, {d.code: d for d in self.departments}


class Plain:
    """A model's fields as plain attributes (a copy made by kpi.catalogue.plain_copy)."""

    def __init__(self, fields: dict):
        self.__dict__.update(fields)


class PlainTarget(Plain, TargetReading):
    """A target's plain copy."""


class PlainCatalogue(Plain, RegisterLookup):
    """A catalogue's plain copy: plan, targets and departments, for the parsing workers."""

    _names = None
    _codes = None
    _resolved = None  # text -> department (or None), up to RESOLVED_KEPT texts

    def resolve_department(self, text: str):
        """RegisterLookup.resolve_department, remembered: a worker parses every file of a plan.

        The same few names (填报单位) recur in all of them. Bounded (a worker's memory): the
        first RESOLVED_KEPT texts, each no longer than a name is ever compared (fold_name).
        """
        memo = self._resolved
        if memo is None:
            memo = self._resolved = {}
        try:
            return memo[text]
        except KeyError:
            pass
        dept = super().resolve_department(text)
        if len(memo) < RESOLVED_KEPT and len(text) <= MAX_NAME_CHARS * 4:
            memo[text] = dept
        return dept

    def by_code(self) -> tuple[dict, dict]:
        """(targets, departments) by code, made once: a worker parses every file of a plan.

        Only here: a pydantic model's private attributes take part in its equality.
        """
        if self._codes is None:
            self._codes = super().by_code()
        return self._codes
