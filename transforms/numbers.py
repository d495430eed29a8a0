"""Numbers as departments write them: thousands separators, full-width digits, a trailing %."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Cells that mean "nothing written here" rather than a number.
EMPTY_MARKS = frozenset({"", "-", "--", "—", "——", "/", "／", "…", "..."})
_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_PLAIN = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class NumberError(ValueError):
    """Text that is not a number; `detail` is the reason without the text."""

    def __init__(self, text: str, detail: str = "不是数字"):
        self.text, self.detail = text, detail
        super().__init__(f"“{text}”{detail}")


@dataclass(frozen=True)
class Number:
    """A parsed number and whether it was written with a percent sign."""

    value: float
    percent: bool = False


def fold(text: str) -> str:
    """NFKC-fold (full-width digits, signs, commas) and drop every kind of space."""
    folded = unicodedata.normalize("NFKC", text)
    folded = folded.replace("\u2212", "-").replace("\u2013", "-")
    return "".join(folded.split())


def is_blank(cell: object) -> bool:
    """Whether a cell holds nothing (None, empty or an empty mark such as '—')."""
    if cell is None:
        return True
    if isinstance(cell, float) and math.isnan(cell):
        return True
    return isinstance(cell, str) and fold(cell) in EMPTY_MARKS


def parse_number(cell: object) -> Number | None:
    """The number in a cell (None when blank); raise NumberError when it is not a number."""
    if is_blank(cell):
        return None
    if isinstance(cell, bool):
        raise NumberError(str(cell))
    if isinstance(cell, int | float):
        if not math.isfinite(cell):
            raise NumberError(str(cell))
        return Number(float(cell))
    return _parse_text(str(cell))


@lru_cache(maxsize=65536)
def _parse_text(text: str) -> Number:
    s = fold(text)
    percent = s.endswith("%")
    if percent:
        s = s[:-1]
    if "," in s:
        if not _GROUPED.match(s):
            raise NumberError(text, "的千分位逗号位置不对，无法确定数值")
        s = s.replace(",", "")
    if not _PLAIN.match(s):
        raise NumberError(text)
    value = float(s)
    if not math.isfinite(value):
        raise NumberError(text)
    return Number(value, percent)
