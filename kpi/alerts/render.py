"""Pure rendering of alert messages (Chinese): WeCom markdown parts, @-mention text, email HTML.

A message is a `Doc`: a title, a few intro lines, one block per row and a footer. WeCom gets the
markdown split into numbered parts at row boundaries, each within 4096 bytes UTF-8; nothing is
ever cut off silently (a row too long for one part continues in the next, marked 续). Email gets
one HTML page with a table; its plain-text alternative is derived by apprise from the HTML, so the
HTML carries the readable plain lines in a hidden block and hides the table cells from that
conversion (see `to_html`).
"""

from __future__ import annotations

import html as _html
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

MARKDOWN_MAX_BYTES = 4096  # WeCom markdown.content limit (errcode 40058 above it)
TEXT_MAX_BYTES = 2048  # WeCom text.content limit
# A send whose outcome was unknown is repeated once, with this line: the reader may have it twice.
RESEND_LINE = "（重发）上次发送未得到确认，如已收到请忽略。"
RESEND_RESERVE = 80  # bytes every part keeps free for RESEND_LINE (60 bytes) and a line break

STATUS_RANK = {"预警": 1, "滞后": 2, "严重滞后": 3}
ALERT_STATUSES = tuple(STATUS_RANK)
_COLOUR = {"预警": "comment", "滞后": "warning", "严重滞后": "warning"}
_HTML_COLOUR = {"预警": "#b8860b", "滞后": "#d2691e", "严重滞后": "#c00000"}
REASON_ZH = {
    "new": "新出现",
    "worse": "加重",
    "repeat": "持续",
    "recovered": "已恢复正常",
    "completed": "已完成",
}
_TIME_JUDGED = ("cumulative", "count")


@dataclass
class Doc:
    """One message before it is laid out for a channel."""

    title: str
    intro: list[str]
    columns: list[str]
    rows: list[list[str]]  # table cells (email)
    md_rows: list[str]  # one markdown block per row (WeCom)
    text_rows: list[str]  # one plain line per row (plain-text alternative, @ text)
    footer: list[str] = field(default_factory=list)
    ping: str | None = None  # short text sent with @mentions


def nbytes(text: str) -> int:
    """Length in bytes of UTF-8."""
    return len(text.encode("utf-8"))


# Characters that WeCom markdown (or a client's link detection) gives a meaning, replaced by
# their full-width forms: tags and <font>, emphasis, code, links and images, headings, quotes,
# @mentions, entities. Department text shown again must stay inert text.
_MD_INERT = str.maketrans(
    {
        "<": "＜",
        ">": "＞",
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "~": "～",
        "[": "［",
        "]": "］",
        "#": "＃",
        "@": "＠",
        "&": "＆",
        "\\": "＼",
    }
)
_BREAKS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
QUOTE_MAX_CHARS = 50  # a value, file, sheet or column name from a submission, quoted in a message
REASON_MAX_CHARS = 120  # a rejection reason (it may quote the value once more)
RECEIPT_MAX_ROWS = 20  # rejected rows listed in a WeCom receipt; the email lists them all


def bound(text: str, limit: int | None) -> str:
    """At most `limit` characters; a longer text is shortened and ends in …."""
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def md_safe(text: object, limit: int | None = None) -> str:
    """Text from data, made inert for WeCom markdown, email and @ text, and length-bounded."""
    s = "" if text is None else str(text)
    if limit is not None:
        s = s[: limit * 4]  # enough to bound after stripping; a huge value costs nothing more
    # Format characters (bidi overrides, zero-width joiners) can disguise what a reader sees.
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Cf")
    s = _BREAKS.sub(" ", s).translate(_MD_INERT).replace("://", "：//")
    return bound(s.strip(), limit)


def fmt_num(value: float | None) -> str:
    """A figure for people: at most two decimals, no trailing zeros."""
    if value is None:
        return "—"
    v = float(value)
    s = f"{v:.1f}" if abs(v) >= 1000 else f"{v:.2f}"
    s = s.rstrip("0").rstrip(".") if "." in s else s
    return "0" if s in ("-0", "") else s


def fmt_qty(value: float | None, unit: str | None) -> str:
    """A figure with its unit, written the Chinese way (80.1亿元, 8.5%)."""
    if value is None:
        return "—"
    return f"{fmt_num(value)}{unit or ''}"


def fmt_pct(value: float | None) -> str:
    """A percentage."""
    return "—" if value is None else f"{fmt_num(value)}%"


def gap_phrase(snap: dict) -> str | None:
    """The gap in words: 落后/超 序时进度, or below/above the target rate."""
    gap = snap.get("gap_pp")
    if gap is None:
        return None
    size = fmt_num(abs(gap))
    if snap.get("kind") in _TIME_JUDGED:
        if abs(gap) < 0.05:
            return "达到序时进度"
        return f"落后序时进度 {size} 个百分点" if gap < 0 else f"超序时进度 {size} 个百分点"
    if snap.get("kind") == "growth_rate":
        return f"低于目标 {size} 个百分点" if gap < 0 else f"高于目标 {size} 个百分点"
    return f"差距 {size} 个百分点"


def figure_lines(snap: dict) -> list[str]:
    """One or two short lines with value, target, 完成率 against 序时进度 and the gap."""
    kind, unit = snap.get("kind"), display_unit(snap)
    actual, target = shown(snap, "actual"), shown(snap, "target_value")
    gap = gap_phrase(snap)
    lines: list[str] = []
    if kind in _TIME_JUDGED:
        lines.append(f"完成 {fmt_qty(actual, unit)} / 目标 {fmt_qty(target, unit)}")
        rate = f"完成率 {fmt_pct(snap.get('completion_rate'))}"
        rate += f"，序时进度 {fmt_pct(snap.get('time_progress'))}"
        lines.append(rate + (f"，{gap}" if gap else ""))
    elif kind == "growth_rate":
        line = f"累计增长 {fmt_pct(actual)}，目标 {fmt_pct(target)}"
        lines.append(line + (f"，{gap}" if gap else ""))
    elif kind == "level":
        line = f"当前 {fmt_qty(actual, unit)} / 目标 {fmt_qty(target, unit)}"
        if snap.get("completion_rate") is not None:
            line += f"，完成率 {fmt_pct(snap.get('completion_rate'))}"
        lines.append(line)
    elif kind == "ceiling":
        lines.append(f"当前 {fmt_qty(actual, unit)}，上限 {fmt_qty(target, unit)}")
    detail = md_safe(snap.get("detail_zh"), REASON_MAX_CHARS)
    if not lines and detail:  # milestones, qualitative and relative targets: progress says it
        lines.append(detail)
    elif not lines and snap.get("days_overdue"):
        lines.append(f"已逾期 {snap['days_overdue']} 天")
    return lines


def outlook_line(snap: dict) -> str | None:
    """预判：... (three tiers), if the progress model gave one."""
    return f"预判：{snap['outlook']}" if snap.get("outlook") else None


def status_md(status: str) -> str:
    """A status in WeCom's colours (only info/comment/warning exist)."""
    colour = _COLOUR.get(status, "info")
    return f'<font color="{colour}">{status}</font>'


def display_unit(snap: dict) -> str | None:
    """The unit the report uses for this target (亿元), else the stored canonical one."""
    return snap.get("display_unit") or snap.get("unit")


def shown(snap: dict, key: str) -> float | None:
    """A stored (canonical) amount converted back to the report's unit for people."""
    value = snap.get(key)
    factor = snap.get("display_factor") or 1.0
    return None if value is None else value / factor


def _cells(snap: dict) -> list[str]:
    unit = display_unit(snap)
    return [
        fmt_qty(shown(snap, "actual"), unit),
        fmt_qty(shown(snap, "target_value"), unit),
        fmt_pct(snap.get("completion_rate")),
        fmt_pct(snap.get("time_progress")),
        "—" if snap.get("gap_pp") is None else fmt_num(snap.get("gap_pp")),
        snap.get("outlook") or "—",
    ]


_FIGURE_COLUMNS = ["完成值", "目标值", "完成率", "序时进度", "差距(百分点)", "预判"]


# ---- layout ---------------------------------------------------------------------------------


def _split_oversized(block: str, room: int) -> list[str]:
    """A block larger than one part, cut at line (else character) boundaries, marked 续."""
    pieces: list[str] = []
    current = ""
    for line in block.split("\n"):
        while nbytes(line) > room:
            cut = len(line)
            while nbytes(line[:cut]) > room - nbytes("（续）"):
                cut -= 1
            pieces.append((current + "\n" if current else "") + line[:cut] + "（续）")
            current, line = "", line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if nbytes(candidate) > room:
            pieces.append(current + "（续）")
            current = line
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def pack(
    head: Callable[[int, int], str],
    blocks: list[str],
    tail: str,
    budget: int,
    sep: str = "\n\n",
) -> list[str]:
    """Lay blocks out in as few parts as fit: head(k, n) + blocks [+ tail in the last part]."""
    reserve = nbytes(head(99, 99)) + nbytes(sep) * 2 + (nbytes(tail) if tail else 0)
    room = budget - reserve
    if room < 64:
        raise ValueError("budget too small for the header and footer")
    chunks: list[list[str]] = [[]]
    used = 0
    for block in blocks:
        for piece in [block] if nbytes(block) <= room else _split_oversized(block, room):
            size = nbytes(piece) + (nbytes(sep) if chunks[-1] else 0)
            if chunks[-1] and used + size > room:
                chunks.append([])
                used, size = 0, nbytes(piece)
            chunks[-1].append(piece)
            used += size
    n = len(chunks)
    parts = []
    for k, chunk in enumerate(chunks, start=1):
        body = sep.join([head(k, n), *chunk] + ([tail] if tail and k == n else []))
        parts.append(body)
    return parts


def _numbered(title: str) -> Callable[[int, int], str]:
    return lambda k, n: title if n == 1 else f"{title}（{k}/{n}）"


def to_markdown_parts(doc: Doc, budget: int = MARKDOWN_MAX_BYTES - RESEND_RESERVE) -> list[str]:
    """WeCom markdown parts, each within `budget` bytes, numbered when there is more than one."""
    heading = _numbered(f"### {md_safe(doc.title)}")
    intro = "\n".join(f"> {line}" for line in doc.intro)

    def head(k: int, n: int) -> str:
        return heading(k, n) + (f"\n{intro}" if intro else "")

    tail = "\n".join(doc.footer)
    return pack(head, doc.md_rows, tail, budget)


def to_text_parts(doc: Doc, budget: int = TEXT_MAX_BYTES - RESEND_RESERVE) -> list[str]:
    """The @-mention text (WeCom `text`), split within `budget` bytes; empty if none."""
    if not doc.ping:
        return []
    lines = doc.ping.split("\n")
    return pack(_numbered(lines[0]), lines[1:], "", budget, sep="\n")


def plain_lines(doc: Doc) -> list[str]:
    """The whole message as plain lines (the email's text alternative)."""
    return [doc.title, *doc.intro, *doc.text_rows, *doc.footer]


_HIDDEN_OPEN = '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all;font-size:1px">'
_HIDDEN_CLOSE = "</div>"


def to_html(doc: Doc) -> str:
    """The email body: a heading, the intro, a table, the footer (and its plain-text lines)."""
    # apprise 2.0.1 sends HTML email as multipart/alternative but derives the text/plain part
    # from the HTML itself (there is no way to pass our own). Its converter keeps text inside a
    # hidden block and drops text that follows a void <meta> tag; so the readable plain lines
    # sit in a hidden block (the usual e-mail "preheader" styling) and every visible element
    # starts with <meta>, which mail clients ignore.
    esc = _html.escape
    hidden = "<br>".join(esc(line) for line in plain_lines(doc))
    out = [
        '<html><head><meta charset="utf-8"><title>',
        esc(doc.title),
        "</title></head><body>",
        _HIDDEN_OPEN,
        hidden,
        _HIDDEN_CLOSE,
        f'<h3 style="font-family:sans-serif"><meta>{esc(doc.title)}</h3>',
    ]
    for line in doc.intro:
        out.append(f'<p style="font-family:sans-serif"><meta>{esc(line)}</p>')
    if doc.rows:
        out.append(
            '<table border="1" cellpadding="4" cellspacing="0" '
            'style="border-collapse:collapse;font-family:sans-serif;font-size:13px">'
        )
        out.append("<tr>" + "".join(f"<th><meta>{esc(c)}</th>" for c in doc.columns) + "</tr>")
        for row in doc.rows:
            cells = []
            for cell in row:
                colour = _HTML_COLOUR.get(cell)
                style = f' style="color:{colour};font-weight:bold"' if colour else ""
                cells.append(f"<td{style}><meta>{esc(cell)}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</table>")
    for line in doc.footer:
        out.append(f'<p style="font-family:sans-serif;color:#666"><meta>{esc(line)}</p>')
    out.append("</body></html>")
    return "".join(out)


def mark_resend(body: str, fmt: str) -> str:
    """A body sent again after an uncertain send, marked with the （重发） line."""
    if fmt == "html":
        if _HIDDEN_OPEN not in body:
            return f"<p>{_html.escape(RESEND_LINE)}</p>" + body
        line = (
            f'<p style="font-family:sans-serif;color:#c00000"><meta>{_html.escape(RESEND_LINE)}</p>'
        )
        body = body.replace(_HIDDEN_OPEN, _HIDDEN_OPEN + _html.escape(RESEND_LINE) + "<br>", 1)
        at = body.index(_HIDDEN_CLOSE, body.index(_HIDDEN_OPEN)) + len(_HIDDEN_CLOSE)
        return body[:at] + line + body[at:]
    if fmt == "markdown" and body.startswith("#"):
        head, _, rest = body.partition("\n")
        return f"{head}\n{RESEND_LINE}" + (f"\n{rest}" if rest else "")
    return f"{RESEND_LINE}\n{body}"


# A department's personal link, appended at send time (never stored in the outbox: see
# kpi/desk/links.py): to the last WeCom markdown part, and to the footer of the email.
LINK_INTRO = "本单位在线查看、填报与回执（专用链接，请勿转发）："
LINK_TEXT = "打开本单位页面"
LINK_WITHHELD = "（本地留存文件不含令牌：实际发出的消息中为本单位专用链接）"


def link_markdown(url: str) -> str:
    """The link line of a WeCom markdown part (a markdown link: `_` in a token stays literal)."""
    return f"{LINK_INTRO}[{LINK_TEXT}]({url})"


def with_link(body: str, fmt: str, url: str, *, shown: str | None = None) -> str:
    """A part with the department's link at its end: markdown line, or the email's footer.

    `shown` replaces the URL as text and drops the link (the local sink files' stand-in).
    """
    if fmt == "html":
        esc = _html.escape
        plain = f"{LINK_INTRO}{shown or url}"
        if shown is None:
            target = f'<a href="{esc(url, quote=True)}">{esc(LINK_TEXT)}</a>'
        else:
            target = esc(shown)
        line = f'<p style="font-family:sans-serif;color:#666"><meta>{esc(LINK_INTRO)}{target}</p>'
        if _HIDDEN_OPEN in body:  # the plain-text alternative gets the link as a line too
            at = body.index(_HIDDEN_CLOSE, body.index(_HIDDEN_OPEN))
            body = body[:at] + "<br>" + esc(plain) + body[at:]
        end = body.rfind("</body>")
        return body[:end] + line + body[end:] if end >= 0 else body + line
    if shown is not None:
        line = f"{LINK_INTRO}{shown}"
    elif fmt == "markdown":
        line = link_markdown(url)
    else:
        line = f"{LINK_INTRO}{url}"
    return f"{body}\n\n{line}"


# ---- message kinds --------------------------------------------------------------------------


def _report_line(report_link: str) -> list[str]:
    return [f"详情（进展报告）：{report_link}"] if report_link else []


def dept_alert_doc(dept_short: str, as_of: date, items: list[dict]) -> Doc:
    """To a department: its targets that turned or stay 预警/滞后/严重滞后, and recoveries.

    It names no report (the district's report holds every department: a department's link opens
    403 there); `deliver` ends the message with the department's own link instead.
    """
    # Each item: {"reason": new|worse|repeat|recovered|completed, "episode_id", "snap"}.
    counts: dict[str, int] = {}
    for it in items:
        counts[it["reason"]] = counts.get(it["reason"], 0) + 1
    summary = "、".join(f"{REASON_ZH[r]} {counts[r]} 项" for r in REASON_ZH if r in counts)
    alerting = [it for it in items if it["reason"] in ("new", "worse", "repeat")]
    if alerting:
        title = f"【目标预警】{dept_short}：{len(alerting)} 项进度滞后"
    else:
        title = f"【恢复通知】{dept_short}：{len(items)} 项已恢复"
    md_rows, text_rows, rows = [], [], []
    for i, it in enumerate(items, start=1):
        snap, reason, eid = it["snap"], it["reason"], it["episode_id"]
        name = md_safe(snap.get("name_zh"))
        if reason in ("recovered", "completed"):
            head = f'**{i}. {name}** <font color="info">{REASON_ZH[reason]}</font>｜编号 {eid}'
            status = REASON_ZH[reason]
        else:
            status = snap["status"]
            head = f"**{i}. {name}** {status_md(status)}｜{REASON_ZH[reason]}｜编号 {eid}"
        lines = figure_lines(snap)
        if reason not in ("recovered", "completed") and outlook_line(snap):
            lines.append(outlook_line(snap))
        md_rows.append("\n".join([head, *lines]))
        text_rows.append(f"{i}. {name}（{status}，编号 {eid}）" + "；".join(["", *lines]))
        rows.append([str(eid), name, status, REASON_ZH[reason], *_cells(snap)])
    footer = []
    if any(it["reason"] == "new" for it in items):
        footer.append("请 1 日内确认、3 日内向督查局反馈整改措施（13710 工作法）。")
    return Doc(
        title=title,
        intro=[f"截至 {as_of:%Y-%m-%d}：{summary}"],
        columns=["编号", "指标", "状态", "变化", *_FIGURE_COLUMNS],
        rows=rows,
        md_rows=md_rows,
        text_rows=text_rows,
        footer=footer,
    )


def digest_doc(
    plan_name: str,
    as_of: date,
    entries: list[dict],
    missing: list[dict],
    report_base_url: str,
) -> Doc:
    """To leadership and 督查局: every open alert across departments, worst first, and 缺报."""
    # entries: {"episode_id", "dept_short", "snap", "days_open"}, already ordered worst first;
    # missing: {"dept_short", "period", "count"}.
    counts = {s: 0 for s in reversed(ALERT_STATUSES)}
    for e in entries:
        counts[e["snap"]["status"]] += 1
    summary = "、".join(f"{s} {n} 项" for s, n in counts.items() if n) or "无预警"
    md_rows, text_rows, rows = [], [], []
    for i, e in enumerate(entries, start=1):
        snap = e["snap"]
        name, dept = md_safe(snap.get("name_zh")), md_safe(e["dept_short"])
        lines = figure_lines(snap)
        tail = f"；{outlook_line(snap)}" if outlook_line(snap) else ""
        md_rows.append(
            f"**{i}. {name}**（{dept}）{status_md(snap['status'])}\n" + "；".join(lines) + tail
        )
        text_rows.append(f"{i}. {name}（{dept}）{snap['status']}：" + "；".join(lines) + tail)
        rows.append(
            [
                str(i),
                dept,
                name,
                snap["status"],
                *_cells(snap),
                str(e["episode_id"]),
                str(e["days_open"]),
            ]
        )
    if missing:
        listed = "、".join(
            f"{md_safe(m['dept_short'])} {m['period']}（{m['count']} 项）" for m in missing
        )
        md_rows.append(f"**缺报**：{listed}")
        text_rows.append(f"缺报：{listed}")
    return Doc(
        title=f"【目标监测日报】{as_of:%Y-%m-%d}：{summary}",
        intro=[f"{plan_name}，截至 {as_of:%Y-%m-%d}，按严重程度排序"],
        columns=["序号", "单位", "指标", "状态", *_FIGURE_COLUMNS, "编号", "已持续(天)"],
        rows=rows,
        md_rows=md_rows,
        text_rows=text_rows,
        footer=_report_line(report_base_url),
    )


def receipt_doc(dept_short: str, submission: dict) -> Doc:
    """To a department: the rows of one submission that were not loaded, and why."""
    # Everything quoted here came from the department's file: inert and length-bounded, and the
    # WeCom text lists at most RECEIPT_MAX_ROWS rows, so one receipt stays one short message.
    receipt = submission.get("receipt") or {}
    rejected = list(receipt.get("rejected") or [])
    name = md_safe(submission["file_name"], QUOTE_MAX_CHARS)
    n_rows, n_ok = submission.get("n_rows") or 0, submission.get("n_accepted") or 0
    n_bad = max(len(rejected), submission.get("n_rejected") or 0)
    whole = md_safe(submission.get("reason_zh") or receipt.get("reason"), REASON_MAX_CHARS)
    if submission["status"] == "rejected" and not rejected:
        intro = [f"文件「{name}」未能入库：{whole or '原因不明'}", "请修改后重新报送。"]
    else:
        intro = [
            f"文件「{name}」共 {n_rows} 行，入库 {n_ok} 行，未入库 {n_bad} 行。",
            "请按下列原因修改后重新报送。",
        ]
    md_rows, text_rows, rows = [], [], []
    for r in rejected:
        sheet = md_safe(r.get("sheet"), QUOTE_MAX_CHARS)
        col = md_safe(r.get("column"), QUOTE_MAX_CHARS)
        value = md_safe(r.get("value"), QUOTE_MAX_CHARS)
        reason = md_safe(r.get("reason"), REASON_MAX_CHARS)
        row = md_safe(r.get("row"), 12)
        where = f"{sheet} 第 {row} 行" + (f"「{col}」" if col else "")
        shown = f"（填报值：{value}）" if value else ""
        if len(md_rows) < RECEIPT_MAX_ROWS:
            md_rows.append(f"- {where}：{reason}{shown}")
        text_rows.append(f"{where}：{reason}{shown}")
        rows.append([sheet, row, col, value, reason])
    if n_bad > len(md_rows) and rejected:
        md_rows.append(f"- 另有 {n_bad - len(md_rows)} 行未列出，完整清单见邮件回执或进展报告。")
    if n_bad > len(rows) and rejected:
        text_rows.append(f"另有 {n_bad - len(rows)} 行未列出（回执只保留前 {len(rows)} 行）。")
    return Doc(
        title=f"【报送回执】{dept_short}：{f'{n_bad} 行' if rejected else '整个文件'}未入库",
        intro=intro,
        columns=["工作表", "行", "列", "填报值", "原因"],
        rows=rows,
        md_rows=md_rows,
        text_rows=text_rows,
    )


def submission_doc(
    dept_short: str, period: str, due: date, targets: list[str], overdue_days: int | None
) -> Doc:
    """To a department: a reminder before a submission is due, or a notice once it is overdue."""
    if overdue_days is None:
        title = f"【报送提醒】{dept_short}：{period} 数据请于 {due:%m月%d日} 前报送"
        intro = [f"以下 {len(targets)} 项指标 {period} 数据尚未报送，截止 {due:%Y-%m-%d}。"]
    else:
        title = f"【逾期未报】{dept_short}：{period} 数据已逾期 {overdue_days} 天"
        intro = [
            f"以下 {len(targets)} 项指标 {period} 数据应于 {due:%Y-%m-%d} 前报送，至今未收到。"
        ]
    names = [md_safe(t) for t in targets]
    return Doc(
        title=title,
        intro=intro,
        columns=["序号", "指标"],
        rows=[[str(i), n] for i, n in enumerate(names, start=1)],
        md_rows=[f"{i}. {n}" for i, n in enumerate(names, start=1)],
        text_rows=[f"{i}. {n}" for i, n in enumerate(names, start=1)],
        footer=["请使用统一模板报送（kpi template 生成）。"],
    )


def _episode_line(e: dict) -> tuple[str, str, list[str]]:
    snap = e["snap"]
    name, dept = md_safe(snap.get("name_zh")), md_safe(e.get("dept_short", ""))
    state = []
    state.append("已确认" if e.get("acked") else "未确认")
    state.append("已反馈" if e.get("feedback") else "未反馈")
    days = f"已 {e['days_open']} 天"
    md = f"- 编号 {e['episode_id']} **{name}**（{dept}）{status_md(snap['status'])}，{days}，{'、'.join(state)}"
    text = f"编号 {e['episode_id']} {name}（{dept}）{snap['status']}，{days}，{'、'.join(state)}"
    cells = [str(e["episode_id"]), dept, name, snap["status"], str(e["days_open"]), *state]
    return md, text, cells


def ack_reminder_doc(dept_short: str, episodes: list[dict]) -> Doc:
    """To a department: alerts not acknowledged within 1 day (sent with @mentions)."""
    lines = [_episode_line(e) for e in episodes]
    ids = "、".join(str(e["episode_id"]) for e in episodes)
    title = f"【请确认】{dept_short}：{len(episodes)} 项预警超过 1 天未确认"
    return Doc(
        title=title,
        intro=["按 13710 工作法，预警应在 1 日内确认、3 日内反馈，逾期将报督查局。"],
        columns=["编号", "单位", "指标", "状态", "已持续(天)", "确认", "反馈"],
        rows=[c for _, _, c in lines],
        md_rows=[m for m, _, _ in lines],
        text_rows=[t for _, t, _ in lines],
        ping=f"{title}\n编号：{ids}\n请尽快确认并反馈整改措施。",
    )


def escalation_doc(level: int, episodes: list[dict]) -> Doc:
    """To 督查局 (and leadership at level 2): alerts without feedback, or still open too long."""
    lines = [_episode_line(e) for e in episodes]
    ids = "、".join(str(e["episode_id"]) for e in episodes)
    if level == 1:
        title = f"【督办】{len(episodes)} 项预警 3 日内未反馈"
        intro = ["以下预警超过 3 日未向督查局反馈，请督办。"]
    else:
        title = f"【再次督办】{len(episodes)} 项问题超期未解决"
        intro = ["一般问题超过 7 日、重大问题超过 1 个月仍未销号，请再次督办。"]
    return Doc(
        title=title,
        intro=intro,
        columns=["编号", "单位", "指标", "状态", "已持续(天)", "确认", "反馈"],
        rows=[c for _, _, c in lines],
        md_rows=[m for m, _, _ in lines],
        text_rows=[t for _, t, _ in lines],
        ping=f"{title}\n编号：{ids}\n请督办相关单位。",
    )


KIND_ZH = {
    "dept_alert": "目标预警",
    "receipt": "报送回执",
    "due_reminder": "报送提醒",
    "overdue_notice": "逾期未报",
    "ack_reminder": "确认提醒",
    "escalation": "督办",
    "digest": "日报",
    "delivery_failure": "送达失败报告",
}


def failure_doc(failures: list[dict]) -> Doc:
    """To 督查局: messages that could not be delivered to a channel, and why."""
    # Each failure: {"message_id", "kind", "title", "channel", "reason", "attempts"}.
    md_rows, text_rows, rows = [], [], []
    for f in failures:
        kind = KIND_ZH.get(f["kind"], f["kind"])
        title, channel = md_safe(f["title"], 60), md_safe(f["channel"], 80)
        reason = md_safe(f["reason"], REASON_MAX_CHARS)
        line = f"消息 {f['message_id']}（{kind}）「{title}」→ {channel}：{reason}，已尝试 {f['attempts']} 次"
        md_rows.append(f"- {line}")
        text_rows.append(line)
        rows.append([str(f["message_id"]), kind, title, channel, reason, str(f["attempts"])])
    return Doc(
        title=f"【送达失败】{len(failures)} 条消息无法送达",
        intro=[
            "以下消息多次发送仍未送达，已停止重试。请核实渠道配置（机器人 key、邮箱、密码）并转告相关单位。"
        ],
        columns=["消息", "类型", "标题", "渠道", "原因", "尝试次数"],
        rows=rows,
        md_rows=md_rows,
        text_rows=text_rows,
        footer=["详情：kpi alerts --all --json"],
    )
