"""How well a draft finds a plan's targets: the matching that bench/draft_quality.py counts.

A drafted row MATCHES a target when all three hold:
1. Place: the row's clause and the target's source overlap in the report, both compared with
   page footers and whitespace removed (so PDF line breaks do not matter).
2. Figure: a numeric target's value equals the row's value once the row's unit is converted to
   the target's unit (same unit family, relative tolerance 1e-9); a target without a value
   (milestone, or qualitative for precision) has the row's deadline and the row has no value.
3. One to one: candidate pairs are taken greedily, most similar names first (shared characters
   of name_zh over the longer name), then in report order; each row and each target is used once.
Kind, comparator, firmness, deadline and department are not needed for a match; their agreement
on matched pairs is reported apart.

Recall counts the targets that carry a number or a date (a value, a milestone, or a deadline
before the plan's end); precision counts every drafted row against all targets.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from transforms.units import UnitError, convert

_FOOTER = re.compile(r"—\s*\d+\s*—")


@dataclass(frozen=True)
class Gold:
    """One target to be found."""

    key: str
    name: str
    span: tuple[int, int]
    value: float | None
    unit: str | None
    deadline: date | None
    counted: bool  # in recall (carries a number or a date)
    fields: dict = field(default_factory=dict, compare=False)


@dataclass
class Score:
    """The result of scoring one draft."""

    gold: int
    found: int
    rows: int
    correct: int
    pairs: list[tuple[object, Gold]]
    misses: list[Gold]
    false_rows: list[object]
    agreement: dict[str, float]

    @property
    def recall(self) -> float:
        """Share of counted targets found."""
        return self.found / self.gold if self.gold else 1.0

    @property
    def precision(self) -> float:
        """Share of drafted rows that match a target."""
        return self.correct / self.rows if self.rows else 1.0


class Squashed:
    """The report without footers and whitespace, and where each raw character went."""

    def __init__(self, raw: str):
        keep = [True] * len(raw)
        for m in _FOOTER.finditer(raw):
            for i in range(m.start(), m.end()):
                keep[i] = False
        self.index: list[int] = []  # raw offset -> squashed offset (of the next kept char)
        out: list[str] = []
        for i, ch in enumerate(raw):
            self.index.append(len(out))
            if keep[i] and not ch.isspace():
                out.append(ch)
        self.index.append(len(out))
        self.text = "".join(out)

    def of_raw(self, start: int, end: int) -> tuple[int, int]:
        """The squashed span of a raw span."""
        return self.index[start], self.index[end]

    def find(self, text: str) -> tuple[int, int] | None:
        """The squashed span of the first occurrence of a text (footers, spaces ignored)."""
        s = re.sub(r"\s+", "", _FOOTER.sub("", text))
        i = self.text.find(s)
        return (i, i + len(s)) if i >= 0 and s else None


def _same_figure(row, g: Gold) -> bool:
    if g.value is None:
        return (
            row.value is None
            and row.deadline is not None
            and row.deadline == (g.deadline.isoformat() if g.deadline else None)
        )
    if row.value is None or not row.unit or not g.unit:
        return False
    try:
        v = convert(row.value, row.unit, g.unit)
    except UnitError:
        return False
    return abs(v - g.value) <= 1e-9 * max(1.0, abs(g.value))


def _similar(a: str, b: str) -> float:
    common = sum((Counter(a) & Counter(b)).values())
    return common / max(len(a), len(b), 1)


def score(rows: list, gold: list[Gold], squashed: Squashed) -> Score:
    """Match drafted rows (with raw `start`/`end`) to targets and count."""
    spans = [squashed.of_raw(r.start, r.end) for r in rows]
    candidates = []
    for i, (row, (a, b)) in enumerate(zip(rows, spans, strict=True)):
        for j, g in enumerate(gold):
            if a < g.span[1] and g.span[0] < b and _same_figure(row, g):
                candidates.append((-_similar(row.name_zh, g.name), i, j))
    candidates.sort()
    used_rows, used_gold, pairs = set(), set(), []
    for _, i, j in candidates:
        if i in used_rows or j in used_gold:
            continue
        used_rows.add(i)
        used_gold.add(j)
        pairs.append((rows[i], gold[j]))
    counted = [g for g in gold if g.counted]
    found = sum(1 for _, g in pairs if g.counted)
    agreement = {}
    if pairs:
        for f in ("kind", "comparator", "firmness", "deadline", "department"):
            known = [(r, g) for r, g in pairs if f in g.fields]
            if known:
                agreement[f] = sum(getattr(r, f) == g.fields[f] for r, g in known) / len(known)
    return Score(
        gold=len(counted),
        found=found,
        rows=len(rows),
        correct=len(pairs),
        pairs=pairs,
        misses=[g for j, g in enumerate(gold) if g.counted and j not in used_gold],
        false_rows=[r for i, r in enumerate(rows) if i not in used_rows],
        agreement=agreement,
    )


def catalogue_gold(cat, squashed: Squashed) -> list[Gold]:
    """Every target of a catalogue as Gold (qualitative ones only for precision)."""
    short = {d.code: d.short_zh for d in cat.departments}
    out = []
    for t in cat.targets:
        span = squashed.find(t.source)
        if span is None:
            continue
        counted = t.value is not None or t.kind == "milestone" or t.deadline < cat.plan.end
        out.append(
            Gold(
                key=t.code,
                name=t.name_zh,
                span=span,
                value=t.value,
                unit=t.unit,
                deadline=t.deadline,
                counted=counted,
                fields={
                    "kind": t.kind,
                    "comparator": t.comparator,
                    "firmness": t.firmness,
                    "deadline": t.deadline.isoformat(),
                    "department": short.get(t.department),
                },
            )
        )
    return out


def labelled_gold(labels: list[dict], squashed: Squashed) -> list[Gold]:
    """Hand-labelled targets of a test excerpt: each names its clause and figure or date."""
    out = []
    for i, lab in enumerate(labels):
        span = squashed.find(lab["clause"])
        if span is None:
            raise ValueError(f"label {i + 1}: clause not in the text: {lab['clause']!r}")
        deadline = lab.get("deadline")
        out.append(
            Gold(
                key=f"#{i + 1}",
                name=lab.get("name", lab["clause"]),
                span=span,
                value=lab.get("value"),
                unit=lab.get("unit"),
                deadline=date.fromisoformat(str(deadline)) if deadline else None,
                counted=True,
                fields={k: lab[k] for k in ("kind",) if k in lab},
            )
        )
    return out
