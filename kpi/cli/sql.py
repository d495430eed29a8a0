"""`kpi sql`: one read-only query on the published snapshot, bounded in time, memory and rows.

DuckDB has no statement timeout: a watchdog thread interrupts the connection (`interrupt()`), and
`memory_limit` bounds what one query may take. CSV output neutralises formula-like cells, so a
spreadsheet that opens it never evaluates text that came from a submission.
"""

from __future__ import annotations

import csv
import json
import sys
import threading
import time
from typing import Any

import click
import duckdb

READ_ONLY_TYPES = ("SELECT", "EXPLAIN")
# A cell starting with one of these is a formula to Excel, WPS or LibreOffice (OWASP's list).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class QueryStopped(click.ClickException):
    """The query broke its time or memory bound (Chinese message)."""


def inert(value: Any) -> Any:
    """A CSV cell that no spreadsheet evaluates: formula-like text gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def run_query(
    con: duckdb.DuckDBPyConnection,
    query: str,
    *,
    timeout: float,
    memory_limit: str,
    max_rows: int,
) -> tuple[list[str], list[tuple], bool]:
    """Columns, at most `max_rows` rows, and whether more rows were left out.

    Refuses anything but one SELECT/EXPLAIN; interrupts the query after `timeout` seconds.
    """
    con.execute("set enable_external_access = false")  # no files, extensions or network
    con.execute("set memory_limit = ?", [memory_limit])
    con.execute("set max_temp_directory_size = ?", [memory_limit])  # spilling is bounded too
    con.execute("set lock_configuration = true")  # the query cannot raise its own limits
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as exc:
        raise click.ClickException(f"查询无法解析：{_first_line(exc)}") from None
    if len(statements) != 1 or statements[0].type.name not in READ_ONLY_TYPES:
        raise click.ClickException("只能执行一条只读查询（SELECT ...）")
    done = threading.Event()
    watchdog = threading.Thread(target=_interrupt_after, args=(con, timeout, done), daemon=True)
    watchdog.start()
    try:
        cur = con.execute(query)
        columns = [d[0] for d in cur.description]
        rows = cur.fetchmany(max_rows + 1)
    except duckdb.InterruptException:
        raise QueryStopped(
            f"查询超过 {timeout:g} 秒，已中止：请缩小查询范围，或用 --timeout 放宽时限"
        ) from None
    except duckdb.OutOfMemoryException:
        raise QueryStopped(
            f"查询所需内存超过上限 {memory_limit}，已中止：请缩小查询范围"
            "（上限由设置 sql_memory_limit 决定）"
        ) from None
    except duckdb.Error as exc:
        raise click.ClickException(f"查询出错：{_first_line(exc)}") from None
    finally:
        done.set()
        watchdog.join()
    return columns, rows[:max_rows], len(rows) > max_rows


def _interrupt_after(con: duckdb.DuckDBPyConnection, seconds: float, done: threading.Event) -> None:
    """Interrupt the connection's query once `seconds` have passed, unless it is done first."""
    # Polls with sleep rather than a timed wait: under faketime (CI's clock pass) a timed
    # threading wait never expires, while sleep and the monotonic clock still advance.
    deadline = time.monotonic() + seconds
    while not done.is_set():
        if time.monotonic() >= deadline:
            con.interrupt()
            return
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


def shown(value: Any) -> str:
    """A value as the terminal shows it: floats without binary noise (0.6, not 0.5999…)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def _print_table(columns: list[str], rows: list[tuple]) -> None:
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table

    console = Console()
    texts = [[shown(v) for v in r] for r in rows]
    widths = [max([cell_len(c)] + [cell_len(t[i]) for t in texts]) for i, c in enumerate(columns)]
    if sum(w + 3 for w in widths) + 1 <= console.width:
        table = Table(caption=f"{len(rows)} 行")
        for c in columns:
            table.add_column(c, overflow="fold")
        for t in texts:
            table.add_row(*t)
        console.print(table)
        return
    # Too wide for the terminal: one record per block, so no figure is ever cut.
    label = max(cell_len(c) for c in columns)
    for n, t in enumerate(texts, start=1):
        console.rule(f"第 {n} 行", align="left")
        for c, v in zip(columns, t, strict=True):
            console.print(f"{c}{' ' * (label - cell_len(c))}  {v}", markup=False, highlight=False)
    console.print(f"共 {len(rows)} 行")


@click.command("sql")
@click.argument("query")
@click.option("--json", "fmt", flag_value="json", help="JSON 列表输出")
@click.option("--csv", "fmt", flag_value="csv", help="CSV 输出（以 = + - @ 开头的单元格前加 '）")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="超过该秒数即中止查询（默认取设置 sql_timeout_seconds，30 秒）",
)
@click.option(
    "--max-rows",
    type=click.IntRange(min=1),
    default=None,
    help="最多输出的行数（默认取设置 sql_max_rows）",
)
def sql_cmd(query: str, fmt: str | None, timeout: float | None, max_rows: int | None) -> None:
    """在只读快照上执行一条查询 / run one read-only query on the published snapshot."""
    from kpi.config import settings
    from kpi.warehouse import NothingToRead, WarehouseBusy, reading

    cfg = settings()
    limit = max_rows or cfg.sql_max_rows
    try:
        with reading(cfg) as con:
            columns, rows, more = run_query(
                con,
                query,
                timeout=timeout or cfg.sql_timeout_seconds,
                memory_limit=cfg.sql_memory_limit,
                max_rows=limit,
            )
    except (NothingToRead, WarehouseBusy) as exc:
        raise click.ClickException(str(exc)) from None
    if fmt == "json":
        json.dump(
            [dict(zip(columns, r, strict=True)) for r in rows],
            sys.stdout,
            ensure_ascii=False,
            indent=2,
            default=str,
        )
        sys.stdout.write("\n")
    elif fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow([inert(c) for c in columns])
        writer.writerows([inert(v) for v in r] for r in rows)
    else:
        _print_table(columns, rows)
    if more:
        click.echo(f"结果超过 {limit} 行，只输出了前 {limit} 行（--max-rows 可调整）", err=True)


def register(group: click.Group) -> None:
    """Add this module's commands to `kpi`."""
    group.add_command(sql_cmd)
