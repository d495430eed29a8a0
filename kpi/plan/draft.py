"""Draft a 分解表 from a government work report's text: rules and a lexicon, no model, no network.

What becomes a row: every clause of the coming year's part (主要预期目标 and the year's tasks)
that commits to a number or an in-year date; the review of last year, multi-year goals and the
glossary stay out. A clause with several figures gives one row per figure (新建学校3所、幼儿园5所
-> two rows); a dated clause naming several things gives one milestone per thing.

Fields from the wording: 增长8%以上 -> growth_rate >= 8 %; 控制在4.5%以内 -> ceiling <=;
下降3% -> ceiling <= -3 %; 新增/新建/完成 N 个/亿元/万平方米 -> count or cumulative >=;
达到/增至/突破/提高至 N -> level >=; 高于全市平均 (N 个百分点) -> relative; 左右 -> >= marked
approx; 年底前/年内/上半年/6月底前/三季度 + 建成/开工/... -> milestone with that date;
不发生 -> ceiling 0. Firmness: 确保 (firm) or 力争/争取/争创 (aspirational), from the last
marker before the figure in its sentence. The lead department is suggested from the keyword
table in config/plan_keywords.toml. `source` is the clause, an exact substring of the text.
"""

from __future__ import annotations

import calendar
import re
import tomllib
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from kpi.catalogue import department_names, find_department
from kpi.config import ROOT

KEYWORDS_FILE = ROOT / "config" / "plan_keywords.toml"

# ------------------------------------------------------------------ lexicon

PERCENT_UNITS = ("个百分点", "百分点", "%", "％", "‰")
CURRENCY_UNITS = ("万亿元", "亿美元", "万美元", "美元", "亿元", "万元", "千元", "元")
MEASURE_UNITS = (
    "万平方米",
    "平方米",
    "平方公里",
    "万㎡",
    "㎡",
    "公里",
    "千米",
    "延长米",
    "延米",
    "万亩",
    "亩",
    "万吨",
    "吨",
    "万千瓦时",
    "千瓦时",
    "万千瓦",
    "千瓦",
    "兆瓦",
    "MWh",
)
PEOPLE_UNITS = ("万人次", "人次", "万人", "人", "名", "万户", "户")
COUNT_UNITS = (
    "个",
    "家",
    "所",
    "座",
    "条",
    "项",
    "场",
    "处",
    "块",
    "支",
    "次",
    "套",
    "批",
    "件",
    "辆",
    "台",
    "栋",
    "幢",
    "张",
    "间",
    "宗",
    "株",
    "棵",
    "盏",
    "起",
)
_UNITS = sorted(
    PERCENT_UNITS + CURRENCY_UNITS + MEASURE_UNITS + PEOPLE_UNITS + COUNT_UNITS,
    key=len,
    reverse=True,
)
AMOUNT_UNITS = set(CURRENCY_UNITS + MEASURE_UNITS)
NUMBER_UNIT = re.compile(
    r"(?<![\d.A-Za-z０-９])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*("
    + "|".join(re.escape(u) for u in _UNITS)
    + ")"
)
FIRM = ("确保", "確保", "务必", "務必", "保证", "保證", "必须完成")
ASPIRE = ("力争", "争取", "争创", "力促", "力爭", "爭取", "爭創")
VERBS = (
    "新改扩建",
    "新改建",
    "改扩建",
    "新开工",
    "新培养",
    "启动建设",
    "新增",
    "新建",
    "培养",
    "开工",
    "完成",
    "建成",
    "引进",
    "培育",
    "实施",
    "推进",
    "推动",
    "举办",
    "认定",
    "改造",
    "创建",
    "打造",
    "组织",
    "达成",
    "盘活",
    "吸收",
    "发放",
    "建设",
    "提升",
    "治理",
    "开展",
    "招引",
    "签约",
    "投放",
    "整治",
    "征收",
    "安置",
    "筹集",
    "谋划",
    "跟踪",
    "管理",
    "提供",
    "开发",
    "实现",
)
_FILLER = re.compile(
    r"^(?:[、，,和及与并将把要]|并且|同时|以及|全年|今年|年内|其中|另外|此外|力争|确保|争取|争创|努力|"
    r"积极|持续|加快|加大|扎实|全力|大力|进一步|继续|重点|着力|务必|保证|全面|稳步|有序|统筹|深入|切实|"
    r"计划|累计|新的一年|我们|全区|全县|全市|本年|特别是|尤其是)+"
)
MULTI_YEAR = re.compile(
    r"年均|十四五|十五五|[两三四五六七八九十\d]\s*年(?:内|来|间|累计)|(?<![\d])20\d{2}\s*年\s*[-—至到]\s*20\d{2}"
)
GROWTH_BEFORE = re.compile(
    r"(?:增长|增速|增幅|涨幅|上涨|提速|同比增长|增加|增長|漲幅|上漲)[^，,、；;]{0,3}$"  # and traditional
)
DECLINE_BEFORE = re.compile(r"(?:下降|降低|减少|削减)[^，,、；;]{0,3}$")
LEVEL_BEFORE = re.compile(
    r"(?:达到|达|增至|增加到|提高至|提升至|提高到|提升到|上升至|突破|超过|保持在|稳定在|保持|稳定|"
    r"占比|比重|比例|覆盖率|普及率|率|总数|总量|总规模|规模)\s*(?:约|近|超)?\s*$"
)
CEILING_BEFORE = re.compile(
    r"(?:控制在|不超过|不高于|低于|降至|下降到|降低到|降到|减少到|减少至|压减至|压减到|以内)\s*$"
)
RELATIVE_BEFORE = re.compile(
    r"(?:高于|快于|超过|超出)\s*(全国|全省|全市|全区|全县|省|市|区)?\s*(?:平均|同期|面上)?\s*"
    r"(?:平均)?(?:水平|增速|增幅)?\s*$"
)
RELATIVE_NO_NUMBER = re.compile(
    r"(?:高于|快于)\s*(全国|全省|全市|全区|全县)\s*(?:平均)?(?:水平|增速)"
)
SCOPE_BEFORE = re.compile(
    r"(?:总投资|投资额|投资|年产|年产能|产能|占地|占地面积|建筑面积|总面积|面积|全长|长约|总长|"
    r"容量|库容|装机)\s*(?:约|达|超)?\s*$"
)
INCREASE_POINTS = re.compile(r"(?:提高|提升|增加|上升)\s*$")
NO_EVENT = re.compile(r"不发生([^，,。；;]{2,20}?)(?:底线|事件|事故|问题)?(?=$|[，,。；;])")
REFERENCE = {
    "全国": "national_average",
    "全省": "province_average",
    "省": "province_average",
    "全市": "city_average",
    "市": "city_average",
    "全区": "district_average",
    "区": "district_average",
    "全县": "district_average",
}

_CN_NUM = {
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
}
_MONTH = r"(\d{1,2}|十[一二]?|[一二三四五六七八九])"
DATE_PHRASES = (
    (re.compile(_MONTH + r"\s*月\s*(\d{1,2})\s*日\s*(?:前|之前|以前)?"), "day"),
    (re.compile(_MONTH + r"\s*月\s*(?:份|底|末|中旬|上旬|下旬)?\s*(?:前|之前|以前)?"), "month"),
    (re.compile(r"(?:第)?([一二三四1-4])\s*季度\s*(?:末|底)?\s*(?:前)?"), "quarter"),
    (re.compile(r"上半年|年中"), "h1"),
    (re.compile(r"下半年|年底前|年底|年末|年内|今年内|本年内|本年度内|年度内|当年"), "year"),
    (re.compile(r"(20\d{2})\s*年\s*(?:底|末|内)\s*(?:前)?"), "year_of"),
)
BARE_YEAR = re.compile(r"(?<!\d)(20\d{2})\s*年(?![\d]*\s*月)")
_RANGE_BEFORE = re.compile(r"[\d一二三四五六七八九十]\s*[-—–~至到]\s*$")

# headings
TOP = re.compile(r"^\s*([一二三四五六七八九十]{1,3})\s*[、.．]\s*(\S.*)$")
SUB = re.compile(r"^\s*[（(]\s*([一二三四五六七八九十]{1,3})\s*[)）]\s*")
PART_WORDS = re.compile(
    r"回顾|工作安排|重点工作|主要目标|预期目标|总体要求|主要任务|工作任务|今后|展望"
)
REVIEW = re.compile(r"回顾|过去|去年|上年|工作总结|主要工作$|主要成绩")
STOP = re.compile(r"名\s*词\s*解\s*释|^附\s*件|^附\s*录|^注\s*释")
FUTURE_YEARS = re.compile(r"今后五年|未来五年|五年目标|十四五|十五五|中长期")
FOOTER = re.compile(
    r"^\s*(?:[—－\-–]+\s*\d+\s*[—－\-–]+|第\s*\d+\s*页(?:\s*共\s*\d+\s*页)?|\d+)\s*$"
)
HARD_END = "。！？；;：:!?"
_SENT = re.compile(r"[。！？；;!?]")


@dataclass
class Drafted:
    """One drafted row of the 分解表, for a person to review."""

    name_zh: str
    kind: str
    comparator: str
    value: float | None
    unit: str | None
    deadline: str | None  # YYYY-MM-DD
    department: str | None
    firmness: str  # firm, aspirational, plain
    source: str  # the clause, an exact substring of the report's text
    source_clean: str  # the same clause with page footers and line breaks removed
    section: str = ""
    headline: bool = False
    approx: bool = False  # 左右
    reference: str | None = None
    cadence: str = "monthly"
    due_day: int = 10
    pace: str = "linear"
    notes: str = ""
    start: int = 0  # offsets of `source` in the text
    end: int = 0

    def record(self) -> dict:
        """The row as `kpi plan draft --json` prints it."""
        out = asdict(self)
        out["firmness_zh"] = {"firm": "确保", "aspirational": "力争"}.get(self.firmness, "")
        return out


@dataclass
class Draft:
    """A drafted plan: the rows and what was found about the report."""

    rows: list[Drafted]
    year: int
    district_zh: str
    sections: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------ text


def clean_text(raw: str) -> tuple[str, list[int]]:
    """The text with PDF line breaks joined and page footers dropped, and each char's raw offset.

    A line break stays where a sentence ends or a heading starts or ends; elsewhere the lines of
    one paragraph are joined without a space, as a PDF extraction split them.
    """
    lines: list[tuple[int, str]] = []
    offset = 0
    for line in raw.split("\n"):
        if line.strip() and not FOOTER.match(line):
            lines.append((offset, line.rstrip()))
        offset += len(line) + 1
    out: list[str] = []
    pos: list[int] = []
    for i, (start, line) in enumerate(lines):
        if i:
            prev = lines[i - 1][1]
            if prev.rstrip()[-1:] in HARD_END or _heading_line(prev) or _starts_block(line):
                out.append("\n")
                pos.append(lines[i - 1][0] + len(prev))
        out.append(line)
        pos.extend(range(start, start + len(line)))
    return "".join(out), pos


def _heading_line(line: str) -> bool:
    s = line.strip()
    if len(s) > 40 or re.search(r"[，,。；;]", s):
        return False
    return bool(TOP.match(s) or SUB.match(s) or PART_WORDS.search(s) or STOP.search(s))


def _starts_block(line: str) -> bool:
    s = line.strip()
    return bool(TOP.match(s) or SUB.match(s) or STOP.search(s) or s.startswith(("——", "各位代表")))


def _part_heading(s: str) -> bool:
    if not _heading_line(s) or SUB.match(s):
        return False
    return bool(TOP.match(s) or PART_WORDS.search(s))


def report_year(raw: str) -> int | None:
    """The year the report plans for: the year it was delivered, else the one it names most."""
    head = raw[:1500]
    m = re.search(r"(20\d{2})\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日", head)
    if m:
        return int(m[1])
    m = re.search(r"(20\d{2})\s*年\s*(?:工作安排|重点工作|主要预期目标|经济社会发展)", raw)
    if m:
        return int(m[1])
    years = Counter(int(y) for y in re.findall(r"(20\d{2})\s*年", raw))
    return years.most_common(1)[0][0] if years else None


def district(raw: str) -> str:
    """The district or county named as the reporting government, if any."""
    m = re.search(r"([\u4e00-\u9fff]{1,8}?[区县市旗])人民政府", raw[:3000])
    return m[1] if m else ""


# ------------------------------------------------------------------ keywords


@dataclass(frozen=True)
class Keywords:
    """The department keyword table and the default cadences by kind."""

    rules: tuple[tuple[tuple[str, ...], tuple[str, ...], str | None, int | None], ...]
    defaults: dict[str, dict]

    def suggest(self, text: str) -> tuple[tuple[str, ...], str | None, int | None] | None:
        """(department names, cadence, due day) of the rule with the longest keyword in text."""
        best, best_len = None, 0
        for names, words, cadence, due in self.rules:
            for w in words:
                if len(w) > best_len and w in text:
                    best, best_len = (names, cadence, due), len(w)
        return best


def load_keywords(path: Path = KEYWORDS_FILE) -> Keywords:
    """The keyword table from config (config/plan_keywords.toml)."""
    with open(path, "rb") as fh:
        doc = tomllib.load(fh)
    rules = tuple(
        (
            tuple(r["department"] if isinstance(r["department"], list) else [r["department"]]),
            tuple(r.get("keywords", [])),
            r.get("cadence"),
            r.get("due_day"),
        )
        for r in doc.get("rule", [])
    )
    return Keywords(rules=rules, defaults=doc.get("defaults", {}))


# ------------------------------------------------------------------ parts of the report


@dataclass
class _Paragraph:
    start: int
    end: int
    section: str
    headline: bool


def coming_paragraphs(text: str) -> tuple[list[_Paragraph], dict[str, str]]:
    """The paragraphs of the coming year's part, with their section codes."""
    out: list[_Paragraph] = []
    sections: dict[str, str] = {}
    paras = text.split("\n")
    # With part headings, what comes before the first (title, salutation) is no part at all;
    # an excerpt without any is taken whole.
    top, sub, skip = "", "", any(_part_heading(p.strip()) for p in paras)
    offset = 0
    for para in paras:
        start, end = offset, offset + len(para)
        offset = end + 1
        s = para.strip()
        if not s:
            continue
        if STOP.search(s[:12]):
            break
        if _part_heading(s):
            m = TOP.match(s)
            title = m[2] if m else s
            top, sub = (m[1] if m else ""), ""
            skip = bool(REVIEW.search(title) or FUTURE_YEARS.search(title))
            if top and not skip:
                sections[top] = title.strip()
            continue
        if skip:
            continue
        m2 = SUB.match(s)
        if m2:
            sub = m2[1]
            code = f"{top}({sub})" if top else f"({sub})"
            rest = s[m2.end() :]
            sections[code] = re.split(r"[。.]", rest, maxsplit=1)[0][:40]
        code = f"{top}({sub})" if sub else top
        headline = bool(re.search(r"预期目标|主要目标是|主要指标", s))
        out.append(_Paragraph(start, end, code, headline))
    return out, sections


# ------------------------------------------------------------------ dates


def _month_number(token: str) -> int | None:
    if token.isdigit():
        n = int(token)
    elif token.startswith("十"):
        n = 10 + (_CN_NUM.get(token[1:], 0) if len(token) > 1 else 0)
    else:
        n = _CN_NUM.get(token, 0)
    return n if 1 <= n <= 12 else None


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def find_date(clause: str, year: int) -> tuple[date | None, int, int, bool]:
    """(deadline, start, end, outside) of the first date phrase in a clause.

    `outside` is True when the clause names another year's date (a multi-year goal).
    """
    for rx, kind in DATE_PHRASES:
        for m in rx.finditer(clause):
            if kind in ("day", "month") and _RANGE_BEFORE.search(clause[: m.start()]):
                continue  # 1-6月: a statistics period, not a deadline
            if kind in ("day", "month"):
                month = _month_number(m[1])
                if month is None:
                    continue
                if kind == "day":
                    try:
                        d = date(year, month, int(m[2]))
                    except ValueError:
                        continue
                elif "上旬" in m[0]:
                    d = date(year, month, 10)
                elif "中旬" in m[0]:
                    d = date(year, month, 20)
                elif re.search(r"月\s*(?:前|之前|以前)$", m[0]) and month > 1:
                    d = _month_end(year, month - 1)  # 6月前: before June
                else:
                    d = _month_end(year, month)
                return d, m.start(), m.end(), False
            if kind == "quarter":
                q = _CN_NUM.get(m[1]) or int(m[1])
                return _month_end(year, 3 * q), m.start(), m.end(), False
            if kind == "h1":
                return date(year, 6, 30), m.start(), m.end(), False
            if kind == "year":
                if re.search(r"[\d一二三四五六七八九十两]$", clause[: m.start()]):
                    return None, m.start(), m.end(), True  # 三年内: several years
                return date(year, 12, 31), m.start(), m.end(), False
            if kind == "year_of":
                y = int(m[1])
                return (date(y, 12, 31), m.start(), m.end(), y != year)
    for m in BARE_YEAR.finditer(clause):
        if int(m[1]) > year:
            return None, m.start(), m.end(), True
    return None, -1, -1, False


# ------------------------------------------------------------------ drafting


def _firmness(sentence: str, upto: int) -> str:
    firm = max((sentence.rfind(w, 0, upto) for w in FIRM), default=-1)
    aspire = max((sentence.rfind(w, 0, upto) for w in ASPIRE), default=-1)
    if firm < 0 and aspire < 0:
        return "plain"
    return "firm" if firm > aspire else "aspirational"


def _clauses(sentence: str) -> list[tuple[int, int]]:
    """Clause spans of a sentence: split at commas and colons (not a thousands separator)."""
    spans, start = [], 0
    for i, ch in enumerate(sentence):
        if ch in "，：:" or (
            ch == ","
            and not (
                0 < i < len(sentence) - 1
                and sentence[i - 1].isdigit()
                and sentence[i + 1].isdigit()
            )
        ):
            spans.append((start, i))
            start = i + 1
    spans.append((start, len(sentence)))
    return [(a, b) for a, b in spans if sentence[a:b].strip()]


def _strip(text: str) -> str:
    text = text.strip(' \t、，,；;：:“”"')
    return _FILLER.sub("", text).strip(" \t、，,")


def _leading_verb(text: str) -> str:
    for v in VERBS:
        if text.startswith(v):
            return v
    return ""


def _noun_after(post: str) -> str:
    post = re.sub(r"^\s*(以上|以内|以下|左右)", "", post)
    m = re.match(r"\s*([^，,。；;、：:（(和及与\d]{0,20})", post)
    return m[1].strip() if m else ""


_SCOPE_PHRASE = re.compile(r"(?:总投资|投资)\s*[\d.]+\s*(?:亿元|万元|亿美元)的")
_LEVEL_WORDS = re.compile(
    r"(以上|以内|左右|约|近|超|达到|达|为|至|到|突破|超过|控制在|提高|提升|增至|增加|保持在|稳定在)+\s*$"
)


def _unquote(name: str) -> str:
    if name.count("“") != name.count("”"):
        name = name.replace("“", "").replace("”", "")
    return name


def _item_name(pre: str, post: str, verb: str) -> tuple[str, str]:
    """(name, verb) of a figure from the words before and after it in its clause."""
    text = _strip(_SCOPE_PHRASE.sub("", pre))
    own = _leading_verb(text)
    if "等" in text:
        text = own + text[text.rfind("等") + 1 :]  # "推进A、B等18个项目": examples are no name
    text = own + _LEVEL_WORDS.sub("", text[len(own) :])
    name = text + _noun_after(post)
    if not own and verb and not name.startswith(verb):
        name = verb + name
    name = _unquote(re.sub(r"\s+", "", name)) or "（待填写）"
    return name[:40], own or verb


def _classify(pre: str, post: str, unit: str, clause: str) -> tuple[str, str, str | None, str]:
    """(kind, comparator, reference, note) of a figure from the words around it."""
    after = post.lstrip()
    le = after.startswith(("以内", "以下", "以內")) or bool(CEILING_BEFORE.search(pre))
    percent = unit in PERCENT_UNITS
    if unit in ("个百分点", "百分点"):
        m = RELATIVE_BEFORE.search(pre)
        if m:
            return "relative", ">=", REFERENCE.get(m[1] or ""), ""
        if INCREASE_POINTS.search(pre):
            return "level", ">=", None, "原文为较上年提高若干个百分点：请改填目标水平，并填写基数"
    if percent and DECLINE_BEFORE.search(pre):
        return "ceiling", "<=", None, "原文为下降：按上限填写，目标值取负数"
    if percent and GROWTH_BEFORE.search(pre):
        return ("ceiling" if le else "growth_rate"), ("<=" if le else ">="), None, ""
    if le:
        return "ceiling", "<=", None, ""
    if LEVEL_BEFORE.search(pre) or percent:
        return "level", ">=", None, ""
    if unit in AMOUNT_UNITS:
        return "cumulative", ">=", None, ""
    return "count", ">=", None, ""


def _is_scope(pre: str, post: str, unit: str) -> bool:
    """A figure that describes something (总投资X亿元的项目, 年产X), not a commitment."""
    if re.search(r"第\s*$", pre) or re.match(r"\s*(?:及以上|及以下|以上的|以下的)", post):
        return True  # an ordinal, or a threshold ("30户及以上村组")
    if re.search(r"(?:年产|年产能|产能|装机|容量)\s*(?:约|达|超)?\s*$", pre):
        return True
    if SCOPE_BEFORE.search(pre) and re.match(r"\s*(?:以上|左右)?\s*的", post):
        return True
    return unit in AMOUNT_UNITS and bool(
        re.match(r"\s*(?:以上|以下)?\s*的?\s*(?:项目|企业|工程|园区|楼宇|重大项目|产业)", post)
    )


_LIST_END = re.compile(r"等|[一二三四五六七八九十两\d]+\s*个|(?<=[项目工程])$")


def _milestone_items(text: str) -> list[tuple[str, str]]:
    """(thing, remainder) for each thing a dated clause names: "A、B和C" -> three."""
    parts = [p for p in re.split(r"、", text)]
    if len(parts) < 2:
        sub = re.split(r"(?<=[项目工程路站院园校馆心])和(?=\S{2})", text)
        parts = sub if len(sub) > 1 else parts
    if len(parts) < 2 or any(len(p.strip()) > 24 for p in parts[:-1]):
        return [(text, "")]
    last = parts[-1]
    tail = re.split(r"(?<=[项目工程路站院园校馆心])和(?=\S{2})", last)
    parts = parts[:-1] + tail
    last = parts[-1]
    m = _LIST_END.search(last)
    remainder = ""
    if m and m.start() > 0:
        remainder = re.sub(r"^(等|[一二三四五六七八九十两\d]+\s*个)", "", last[m.start() :])
        parts[-1] = last[: m.start()]
    items = []
    for p in parts:
        p = p.strip()
        if "等" in p:
            p = p[: p.find("等")]
        if p:
            items.append((p, remainder.strip()))
    return items if len(items) > 1 else [(text, "")]


class _Drafter:
    def __init__(
        self, raw: str, year: int, keywords: Keywords, departments: list, district_zh: str = ""
    ):
        self.raw = raw
        self.text, self.pos = clean_text(raw)
        self.year = year
        self.kw = keywords
        # The register's names as ingest and `-d` read them: short and full names, aliases,
        # with or without the district's prefix (kpi.catalogue, the one department lookup).
        self.names, _ = department_names(departments, district_zh)
        self.district_zh = district_zh
        self.rows: list[Drafted] = []

    # the clause as an exact substring of the raw text
    def span(self, a: int, b: int) -> tuple[str, str, int, int]:
        ra, rb = self.pos[a], self.pos[b - 1] + 1
        return self.raw[ra:rb], self.text[a:b], ra, rb

    def department(self, text: str) -> tuple[str | None, str | None, int | None]:
        hit = self.kw.suggest(text)
        if hit is None:
            return None, None, None
        names, cadence, due = hit
        for n in names:
            d = find_department(self.names, n, self.district_zh)
            if d is not None:
                return d.short_zh, cadence, due
        return names[0], cadence, due

    def add(self, para, a, b, sentence_text, *, name, kind, comparator, value, unit, deadline,
            firmness, approx=False, reference=None, notes=""):  # fmt: skip
        raw, clean, ra, rb = self.span(a, b)
        dept, cadence, due = self.department(clean + name)
        if dept is None:
            dept, cadence, due = self.department(sentence_text)
        defaults = self.kw.defaults.get(kind, {})
        pace = {
            "cumulative": "linear",
            "count": "linear",
            "level": "direct" if unit in ("%", "％", "‰") else "path",
            "milestone": "dated",
            "qualitative": "dated",
        }.get(kind, "direct")
        self.rows.append(
            Drafted(
                name_zh=name,
                kind=kind,
                comparator=comparator,
                value=value,
                unit=unit,
                deadline=deadline.isoformat() if deadline else None,
                department=dept,
                firmness=firmness,
                source=raw,
                source_clean=clean,
                section=para.section,
                headline=para.headline,
                approx=approx,
                reference=reference,
                cadence=cadence or defaults.get("cadence", "monthly"),
                due_day=int(due or defaults.get("due_day", 10)),
                pace=pace,
                notes=notes,
                start=ra,
                end=rb,
            )
        )

    def paragraph(self, para: _Paragraph) -> None:
        text = self.text[para.start : para.end]
        begin = 0
        for m in list(_SENT.finditer(text)) + [None]:
            end = m.start() if m else len(text)
            if text[begin:end].strip():
                self.sentence(para, para.start + begin, text[begin:end])
            begin = end + 1

    def sentence(self, para: _Paragraph, at: int, sentence: str) -> None:
        if re.match(rf"\s*(?:{self.year - 1}\s*年|去年|过去一年|上一年)", sentence):
            return  # a look back inside the coming year's part
        verb = ""
        prev_clause = ""
        first_row = len(self.rows)
        for a, b in _clauses(sentence):
            sentence_rows = len(self.rows) > first_row
            clause = sentence[a:b]
            deadline, ds, de, outside = find_date(clause, self.year)
            if outside or MULTI_YEAR.search(clause):
                prev_clause = clause
                continue
            figures = [
                m
                for m in NUMBER_UNIT.finditer(clause)
                if not _is_scope(clause[: m.start()], clause[m.end() :], m[2])
            ]
            firm_at = a + (figures[0].start() if figures else max(ds, 0))
            firmness = _firmness(sentence, firm_at + 1)
            ca, cb = at + a, at + b
            # trim the clause's own leading and trailing spaces from the quoted source
            while ca < cb and self.text[ca].isspace():
                ca += 1
            while cb > ca and self.text[cb - 1].isspace():
                cb -= 1
            if figures and re.match(r"\s*(?:围绕|按照|根据|对照|针对|聚焦)", clause):
                figures = []  # "围绕…支持的11大领域46个具体投向": a description, no commitment
            verb = ""
            if figures:
                last = 0
                for m in figures:
                    pre, post = clause[last : m.start()], clause[m.end() :]
                    kind, comparator, reference, note = _classify(pre, post, m[2], clause)
                    value = float(m[1].replace(",", ""))
                    if kind == "ceiling" and "下降" in note:
                        value = -value
                    approx = post.lstrip().startswith("左右")
                    name, verb = _item_name(pre, post, verb)
                    if len(name) <= 6 and name.startswith("完成") and self.rows and sentence_rows:
                        # "…等6个省重点项目，完成年度投资25.8亿元": whose investment
                        prev = self.rows[-1].name_zh
                        name = prev[len(_leading_verb(prev)) :] + name
                    self.add(
                        para, ca, cb, sentence,
                        name=name, kind=kind, comparator=comparator, value=value,
                        unit="百分点" if m[2] == "个百分点" else m[2],
                        deadline=deadline or date(self.year, 12, 31), firmness=firmness,
                        approx=approx, reference=reference,
                        notes="原文为“左右”" if approx else note,
                    )  # fmt: skip
                    last = m.end()
                    nxt = re.match(r"\s*(以上|以内|以下|左右)?", clause[last:])
                    last += nxt.end()
                    noun = _noun_after(clause[last:])
                    if noun and not NUMBER_UNIT.search(noun):
                        last = clause.index(noun, last) + len(noun)  # "47个城市更新项目和…"

            elif (rel := RELATIVE_NO_NUMBER.search(clause)) is not None:
                self.add(
                    para, ca, cb, sentence,
                    name=_strip(clause[: rel.start()]) + rel[0], kind="relative",
                    comparator=">", value=0.0, unit="百分点",
                    deadline=date(self.year, 12, 31), firmness=firmness,
                    reference=REFERENCE.get(rel[1]),
                )  # fmt: skip
            elif (no := NO_EVENT.search(clause)) is not None:
                self.add(
                    para, ca, cb, sentence,
                    name=f"不发生{no[1]}", kind="ceiling", comparator="<=", value=0.0,
                    unit="起", deadline=date(self.year, 12, 31), firmness=firmness,
                )  # fmt: skip
            elif deadline is not None:
                self.milestones(
                    para, ca, cb, sentence, clause, ds, de, deadline, firmness, prev_clause
                )
            prev_clause = clause

    def milestones(self, para, ca, cb, sentence, clause, ds, de, deadline, firmness, prev_clause):
        before, after = _strip(clause[:ds]), _strip(clause[de:])
        if not after or not re.search(r"[\u4e00-\u9fff]", after):
            return
        predicate = re.sub(r"\s+", "", after)
        if before and re.search(r"[、和]", before):
            items = [(t, "") for t, _ in _milestone_items(before)]
        elif not before and re.search(r"[、]", after):
            lead = _leading_verb(after)
            items = _milestone_items(after[len(lead) :])
            predicate = ""
        else:
            items = [(before, "")]
        for thing, rest in items:
            thing = re.sub(r"\s+", "", _strip(thing))
            name = _unquote(f"{thing}{rest or predicate}" if thing else predicate)
            if len(name) < 6 and prev_clause:
                name = re.sub(r"\s+", "", _strip(prev_clause))[:16] + "，" + name
            self.add(
                para, ca, cb, sentence,
                name=name[:40], kind="milestone", comparator="done", value=None, unit=None,
                deadline=deadline, firmness=firmness,
            )  # fmt: skip


def draft_plan(
    raw: str,
    *,
    year: int | None = None,
    keywords: Keywords | None = None,
    departments: list | None = None,
) -> Draft:
    """Draft the 分解表 rows of a report's text (deterministic; no model, no network)."""
    year = year or report_year(raw)
    if year is None:
        raise ValueError("无法从报告中确定年度，请用 --year 指定")
    where = district(raw)
    d = _Drafter(raw, year, keywords or load_keywords(), departments or [], where)
    paras, sections = coming_paragraphs(d.text)
    for p in paras:
        d.paragraph(p)
    seen: Counter = Counter()
    for r in d.rows:  # the 分解表 wants distinct task names
        seen[r.name_zh] += 1
        if seen[r.name_zh] > 1:
            r.name_zh = f"{r.name_zh}（{seen[r.name_zh]}）"
    return Draft(rows=d.rows, year=year, district_zh=where, sections=sections)
