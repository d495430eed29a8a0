"""Units as written in reports and submissions, and their canonical forms."""

from __future__ import annotations

import unicodedata

# unit as written -> (canonical unit, factor to multiply by). Families convert within
# themselves only; a unit that is not listed, or belongs to another family, never converts.
_FAMILIES: dict[str, dict[str, float]] = {
    "万元": {"元": 1e-4, "千元": 1e-1, "万元": 1.0, "百万元": 100.0, "亿元": 1e4},
    "万美元": {"美元": 1e-4, "万美元": 1.0, "亿美元": 1e4},
    "人": {"人": 1.0, "人次": 1.0, "名": 1.0, "万人": 1e4},
    "平方米": {"平方米": 1.0, "㎡": 1.0, "m2": 1.0, "万平方米": 1e4, "万㎡": 1e4},
    "户": {"户": 1.0, "万户": 1e4},
    "家": {"家": 1.0, "户企业": 1.0},
    "%": {"%": 1.0, "％": 1.0, "百分比": 1.0},
    "‰": {"‰": 1.0},
    "百分点": {"百分点": 1.0, "个百分点": 1.0, "pp": 1.0},
    "MWh": {"MWh": 1.0, "兆瓦时": 1.0, "GWh": 1e3, "kWh": 1e-3, "千瓦时": 1e-3, "万千瓦时": 10.0},
    # Units other districts' reports commit to (kpi plan draft / import).
    "公里": {"公里": 1.0, "千米": 1.0, "km": 1.0, "米": 1e-3, "延米": 1e-3, "延长米": 1e-3},
    "亩": {"亩": 1.0, "万亩": 1e4},
    "平方公里": {"平方公里": 1.0},
    "吨": {"吨": 1.0, "万吨": 1e4},
    "千瓦": {"千瓦": 1.0, "kW": 1.0, "兆瓦": 1e3, "MW": 1e3, "万千瓦": 1e4},
}
# Plain count units: canonical is themselves (no family to convert across).
COUNT_UNITS = ("个", "场", "项", "座", "条", "处", "所", "支", "起", "次", "套", "块", "件", "批")
COUNT_UNITS += ("辆", "台", "栋", "幢", "张", "间", "宗", "株", "棵", "艘", "架", "部", "盏")

_LOOKUP: dict[str, tuple[str, float]] = {}
for canonical, members in _FAMILIES.items():
    for written, factor in members.items():
        _LOOKUP[written.lower()] = (canonical, factor)
for u in COUNT_UNITS:
    _LOOKUP[u] = (u, 1.0)


class UnitError(ValueError):
    """A unit that is unknown or does not convert to the one expected."""


def normalize_unit(text: str | None) -> str:
    """Fold full-width characters and spaces out of a unit as written."""
    if text is None:
        return ""
    folded = unicodedata.normalize("NFKC", str(text)).strip()
    folded = folded.replace(" ", "").replace("（", "(").replace("）", ")")
    return folded.strip("()")


def canonical(unit: str) -> tuple[str, float]:
    """The canonical unit of `unit` and the factor that converts a value into it."""
    key = normalize_unit(unit)
    hit = _LOOKUP.get(key.lower()) or _LOOKUP.get(key)
    if hit is None:
        raise UnitError(f"未知计量单位“{unit}”")
    return hit


def convert(value: float, unit_from: str, unit_to: str) -> float:
    """Convert a value between two units of one family, or raise UnitError."""
    c_from, f_from = canonical(unit_from)
    c_to, f_to = canonical(unit_to)
    if c_from != c_to:
        raise UnitError(f"计量单位“{unit_from}”不能换算为“{unit_to}”")
    return value * f_from / f_to
