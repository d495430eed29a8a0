"""A report's text from .txt or .docx, bounded; the text the drafter quotes from."""

from __future__ import annotations

import zipfile
from pathlib import Path

MAX_REPORT_BYTES = 20_000_000  # a report is ~50-200 KB of text; a .docx with pictures more
MAX_REPORT_CHARS = 2_000_000
_ENCODINGS = ("utf-8-sig", "gb18030")


class ReportError(ValueError):
    """The report cannot be read (Chinese message)."""


def read_report(path: Path, max_bytes: int = MAX_REPORT_BYTES) -> str:
    """The report's text: a .txt in UTF-8 or GB18030, or a .docx's paragraphs and tables."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"找不到报告文件：{path}")
    size = path.stat().st_size
    if size > max_bytes:
        raise ReportError(f"报告文件过大：{path.name}（{size} 字节，上限 {max_bytes}）")
    if path.suffix.lower() == ".docx":
        text = _docx_text(path, max_bytes)
    else:
        data = path.read_bytes()
        for enc in _ENCODINGS:
            try:
                text = data.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ReportError(f"报告文件不是 UTF-8 或 GB18030 编码的文本：{path.name}")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > MAX_REPORT_CHARS:
        raise ReportError(f"报告过长：{path.name}（{len(text)} 字，上限 {MAX_REPORT_CHARS}）")
    return text


def _docx_text(path: Path, max_bytes: int) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            if sum(i.file_size for i in zf.infolist()) > 10 * max_bytes:
                raise ReportError(f"报告文件解压后过大：{path.name}")
    except zipfile.BadZipFile as exc:
        raise ReportError(f"报告文件已损坏或不是 .docx：{path.name}") from exc
    import docx  # python-docx, only where a .docx is read

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises several kinds on a broken package
        raise ReportError(f"无法读取 .docx：{path.name}（{type(exc).__name__}）") from exc
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:  # some reports put the main targets in a table
        for row in table.rows:
            lines.append("，".join(c.text.strip() for c in row.cells if c.text.strip()))
    return "\n".join(lines)
