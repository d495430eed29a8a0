"""Reporting periods as departments write them: 2023-06, 202306, 2023年6月, 2023年1-6月, 1-6月."""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache

_DASH = r"[-~～—–至到]"
_ISO = re.compile(r"^(\d{4})([-/])(\d{1,2})(?:\2\d{1,2})?$")  # 2023-06, 2023/6/30
_YEAR_MONTH = re.compile(r"^(\d{4})年(\d{1,2})月份?(?:\d{1,2}日)?$")  # 2023年6月(30日)
_COMPACT = re.compile(r"^(\d{4})(\d{2})$")
_RANGE = re.compile(rf"^(?:(\d{{4}})年)?(\d{{1,2}})月?{_DASH}(\d{{1,2}})月份?$")
_MONTH = re.compile(r"^(?:(\d{4})年)?(\d{1,2})月份?$")
_YEAR_IN_TEXT = re.compile(r"(20\d{2})\s*年")


class PeriodError(ValueError):
    """Text that is not a reporting period; `detail` is the reason without the text."""

    def __init__(self, text: str, detail: str):
        self.text, self.detail = text, detail
        super().__init__(f"“{text}”{detail}")


@dataclass(frozen=True)
class Period:
    """A year-to-date period: months start_month..month of year (year None when not written)."""

    year: int | None
    month: int
    start_month: int = 1

    @property
    def key(self) -> str:
        """'YYYY-MM', the last month the figure covers."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def end(self) -> date:
        """The last day of the period."""
        return month_end(self.year, self.month)

    @property
    def index(self) -> int:
        """Months since year 0: periods compare by this number."""
        return self.year * 12 + self.month - 1


def month_end(year: int, month: int) -> date:
    """The last day of a month."""
    return date(year, month, calendar.monthrange(year, month)[1])


def _fold(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def parse_period(cell: object) -> Period:
    """The period in a cell; the year stays None when only months are written (e.g. 1-6月)."""
    if isinstance(cell, datetime | date):
        return Period(cell.year, cell.month)
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    return _parse_text(str(cell))


@lru_cache(maxsize=4096)
def _parse_text(text: str) -> Period:
    s = _fold(text)
    if not s:
        raise PeriodError(text, "为空")
    year: str | None
    if m := _ISO.match(s):
        year, start, month = m.group(1), "1", m.group(3)
    elif m := _YEAR_MONTH.match(s) or _COMPACT.match(s):
        year, start, month = m.group(1), "1", m.group(2)
    elif m := _RANGE.match(s):
        year, start, month = m.group(1), m.group(2), m.group(3)
    elif m := _MONTH.match(s):
        year, start, month = m.group(1), "1", m.group(2)
    else:
        raise PeriodError(text, "无法识别为报告期（应写作2023-06、2023年6月或2023年1-6月）")
    y, a, b = (int(year) if year else None), int(start), int(month)
    if not 1 <= b <= 12 or not 1 <= a <= 12:
        raise PeriodError(text, "中的月份不在1-12之间")
    if a > b:
        raise PeriodError(text, "的起始月份晚于截止月份")
    if a != 1:
        raise PeriodError(text, f"不是年初至今累计（应从1月起，如1-{b}月）")
    if y is not None and not 1900 <= y <= 2999:
        raise PeriodError(text, "的年份不对")
    return Period(y, b, a)


def with_year(period: Period, year: int) -> Period:
    """The period with its year filled in when it was not written."""
    return period if period.year is not None else replace(period, year=year)


def years_in_text(text: str) -> list[int]:
    """Years named in free text such as a title row ('2023年1-6月主要指标')."""
    return [int(y) for y in _YEAR_IN_TEXT.findall(unicodedata.normalize("NFKC", text))]


def context_year(written_years: Iterable[int], titles: Iterable[str], plan_year: int) -> int:
    """The year of periods written without one: the file's other rows, then its title, else the plan."""
    counts = Counter(written_years)
    if counts:
        return counts.most_common(1)[0][0]
    for title in titles:
        if found := years_in_text(title):
            return found[0]
    return plan_year
