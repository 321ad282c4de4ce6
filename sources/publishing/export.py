"""Export a published relation to CSV, JSON Lines or Parquet, streaming (DuckDB COPY).

Reads the analysts' published copy, never the warehouse the runs write, so an export never waits
for or blocks a run. The relation name is checked against the copy's catalog and quoted; dates
are bound as parameters; nothing from the command line is formatted into SQL as a value.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

FORMATS = {
    "csv": "(FORMAT csv, HEADER true)",
    "json": "(FORMAT json)",
    "parquet": "(FORMAT parquet)",
}
DAY_COLUMNS = ("day", "interaction_day", "session_day", "period_start", "ChargePeriodStart")


# A relation of budget periods (day, month or session, starting on period_start) is filtered by
# overlap with the range, so a month budget is in the export of any of its days.
PERIOD = "<period>"
PERIOD_OVERLAP = (
    "period_start <= $end and (case when period = 'month' then last_day(period_start) "
    "else period_start end) >= $start"
)


class ExportError(ValueError):
    """What was asked cannot be exported; the message says what can."""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def resolve_relation(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[str, str, str | None]:
    """(schema, table, day column or None) of `relation` ("marts.sessions" or "sessions")."""
    schema, _, table = relation.rpartition(".")
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_name = $t and ($s = '' or table_schema = $s) and table_schema <> 'meta' "
        "order by table_schema = 'marts' desc",
        {"t": table, "s": schema},
    ).fetchall()
    if not rows:
        known = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema <> 'meta' order by 1"
        ).fetchall()
        raise ExportError(
            f"no relation {relation!r} in the published warehouse; one of: "
            + ", ".join(k for (k,) in known)
        )
    found_schema, found_table = rows[0]
    columns = {
        c
        for (c,) in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = $s and table_name = $t",
            {"s": found_schema, "t": found_table},
        ).fetchall()
    }
    day = next((c for c in DAY_COLUMNS if c in columns), None)
    if day == "period_start" and "period" in columns:
        day = PERIOD  # budget periods: a month overlaps a range of days without starting in it
    return found_schema, found_table, day


def export_relation(
    published: Path,
    relation: str,
    fmt: str,
    out: Path,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> int:
    """Write the relation (optionally the days [start, end]) to `out`; return the row count."""
    if start and end and end < start:
        raise ExportError(f"--end {end} is before --start {start}")
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if not Path(published).exists():
        raise ExportError(
            f"{published} does not exist yet: run `costwatch demo` or `costwatch run` first"
        )
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(published), read_only=True) as con:
        schema, table, day = resolve_relation(con, relation)
        where, params = "", {}
        if start or end:
            if day is None:
                raise ExportError(f"{schema}.{table} has no day column to filter by --start/--end")
            where = (
                f" where {PERIOD_OVERLAP}"
                if day == PERIOD
                else f" where {_ident(day)} between $start and $end"
            )
            params = {"start": start or dt.date.min, "end": end or dt.date.max}
        # Identifiers come from the catalog (quoted); dates are bound parameters.
        source = f"select * from {_ident(schema)}.{_ident(table)}{where}"  # noqa: S608
        tmp = out.with_name(f".{out.name}.tmp")
        target = str(tmp).replace("'", "''")
        con.execute(f"copy ({source}) to '{target}' {FORMATS[fmt]}", params)
        count = con.execute(f"select count(*) from ({source})", params).fetchall()[0][0]  # noqa: S608
    tmp.replace(out)
    return int(count)
