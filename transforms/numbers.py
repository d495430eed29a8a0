"""Numbers as departments write them: thousands separators, full-width digits, a trailing %.

Digits are 0-9, half-width or full-width (０-９, ．, －, ％, ，). Digits of other scripts
(Arabic-Indic ١٢٣, circled ①, superscripts) and numbers grouped by spaces ("1 234") are refused
with a reason: Python would read the first as a number, and a space may split two numbers.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Cells that mean "nothing written here" rather than a number.
EMPTY_MARKS = frozenset({"", "-", "--", "—", "——", "/", "／", "…", "..."})
_GROUPED = re.compile(r"^[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")
_PLAIN = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_SPACED = re.compile(r"[0-9][.,]?\s+[.,]?[0-9]")
# Full-width forms (U+FF01-FF5E) to ASCII, the ideographic space, and the minus signs people type.
_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {
    0x3000: 0x20,
    0x2212: 0x2D,
    0x2013: 0x2D,
    0xFE63: 0x2D,
}


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


def _other_digit(s: str) -> bool:
    """Whether the text holds a digit that is not 0-9 (Arabic-Indic, circled, superscript...)."""
    return any(not ("0" <= ch <= "9") and unicodedata.category(ch) in ("Nd", "No") for ch in s)


@lru_cache(maxsize=65536)
def _parse_text(text: str) -> Number:
    s = text.translate(_WIDTH).strip()
    if _other_digit(s):
        raise NumberError(text, "含有0-9以外的数字字符，请用阿拉伯数字0-9填写")
    if _SPACED.search(s):
        raise NumberError(text, "的数字中间有空格，无法确定数值（如“1 234”应写作1234或1,234）")
    s = "".join(s.split())
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
