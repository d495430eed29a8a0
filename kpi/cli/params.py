"""Option types shared by the commands, with Chinese messages."""

from __future__ import annotations

from datetime import date

import click

DATE_HINT_ZH = "日期应写作 YYYY-MM-DD（如 2023-07-15）"


def parse_date_zh(text: str) -> date:
    """A date written YYYY-MM-DD; ValueError in Chinese otherwise."""
    value = str(text).strip()
    try:
        return date.fromisoformat(value)
    except ValueError:
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise ValueError(f"{DATE_HINT_ZH}，收到“{shown}”") from None


class DateParam(click.ParamType):
    """A calendar date, YYYY-MM-DD; a bad one is refused in Chinese."""

    name = "YYYY-MM-DD"

    def convert(self, value, param, ctx):
        """The date, or a Chinese usage error."""
        if isinstance(value, date):
            return value
        try:
            return parse_date_zh(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DATE = DateParam()
