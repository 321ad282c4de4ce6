"""`costwatch sql`: a read-only query of the analysts' published copy, printed as a table or CSV.

No DuckDB command-line program ships with the Python package (and the one on PyPI does not read
this DuckDB's file format), so the project offers its own. The connection is read-only, runs one
query (a SELECT, DESCRIBE, SHOW or SUMMARIZE: no COPY, ATTACH or SET) and has no access to other
files (`enable_external_access=false`, except the published copy's own day files,
`allowed_directories`): a query can read the published marts and nothing else, and write nothing.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TextIO

import duckdb

from sources.publishing.day_files import parts_root


class QueryError(ValueError):
    """The query cannot run; the message says why and what to do."""


def run_query(
    published: Path, sql: str, as_csv: bool = False, max_rows: int = 100, out: TextIO = sys.stdout
) -> int:
    """Run `sql` on the published copy; print the rows; return how many there were."""
    if not Path(published).exists():
        raise QueryError(
            f"{published} does not exist yet: run `costwatch demo` or `costwatch run` first"
        )
    _only_a_query(sql)
    with duckdb.connect(str(published), read_only=True) as con:
        # the day files behind the views (sources/publishing/day_files.py), then nothing else
        parts = str(parts_root(Path(published).resolve())) + "/"
        con.execute("set allowed_directories = [$parts]", {"parts": parts})
        con.execute("set enable_external_access = false")
        con.execute("set enable_progress_bar = false")
        try:
            rel = con.sql(sql)
        except duckdb.Error as exc:
            raise QueryError(str(exc).splitlines()[0]) from None
        if rel is None:
            raise QueryError("the statement returned no rows: give a SELECT (or SHOW, DESCRIBE)")
        try:
            rows = rel.fetchall()
        except duckdb.Error as exc:
            raise QueryError(str(exc).splitlines()[0]) from None
        if as_csv:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(rel.columns)
            writer.writerows(rows)
        else:
            out.write(_table(rel.columns, rows, max_rows))
    return len(rows)


def _only_a_query(sql: str) -> None:
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(str(exc).splitlines()[0]) from None
    kinds = [s.type for s in statements]
    if kinds != [duckdb.StatementType.SELECT]:
        names = ", ".join(k.name for k in kinds) or "nothing"
        raise QueryError(f"give one query (SELECT, DESCRIBE, SHOW, SUMMARIZE), not: {names}")


def _table(columns: list[str], rows: list[tuple], max_rows: int) -> str:
    """A plain text table: one header line, a rule, aligned cells (numbers to the right)."""
    shown = rows[:max_rows]
    cells = [[_cell(v) for v in row] for row in shown]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [
        bool(shown) and all(isinstance(r[i], int | float) or _is_decimal(r[i]) for r in shown)
        for i in range(len(columns))
    ]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [line(list(columns)), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    more = len(rows) - len(shown)
    out.append(f"({len(rows)} rows{f', {more} not shown: --max-rows or --csv' if more else ''})")
    return "\n".join(out) + "\n"


def _is_decimal(value: object) -> bool:
    from decimal import Decimal

    return isinstance(value, Decimal)


def _cell(value: object) -> str:
    return "NULL" if value is None else str(value)
