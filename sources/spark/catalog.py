"""The analysts' DuckDB file over a Spark lake: a view per Parquet table, no data copied.

On the Spark engine (docs/spark.md, in progress) the marts live as Parquet tables under the lake,
one folder per table (`<lake>/warehouse/<schema>.db/<table>/`, day partitions as `day=2026-11-21`
subfolders). Analysts keep DuckDB: this writes a DuckDB file whose `<schema>.<table>` views read
those files, so the README's queries run unchanged. A partition column (Spark writes it last, in
folder names) is typed DATE when its values are dates; the file is written aside and renamed over
the previous one, so an open reader keeps its old file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from sources.warehouse import ident

PARTITION = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def lake_tables(lake: Path, schemas: tuple[str, ...]) -> list[tuple[str, str, Path]]:
    """(schema, table, folder) of every table of `schemas` in the lake."""
    found = []
    for schema in schemas:
        base = Path(lake) / "warehouse" / f"{schema}.db"
        if base.is_dir():
            found += [(schema, p.name, p) for p in sorted(base.iterdir()) if p.is_dir()]
    return found


def partition_types(folder: Path) -> dict[str, str]:
    """The partition columns of a table folder and their DuckDB types (DATE for days)."""
    types: dict[str, str] = {}
    level = folder
    while True:
        subfolders = [p for p in level.iterdir() if p.is_dir() and PARTITION.fullmatch(p.name)]
        if not subfolders:
            return types
        name, value = PARTITION.fullmatch(subfolders[0].name).groups()  # type: ignore[union-attr]
        types[name] = "DATE" if DAY.fullmatch(value) else "VARCHAR"
        level = subfolders[0]


def view_sql(schema: str, table: str, folder: Path) -> str:
    files = str(folder / "**" / "*.parquet").replace("'", "''")
    hive = partition_types(folder)
    # by name: partitions written before a version added a column read NULL for it
    options = ", union_by_name = true" + (", hive_partitioning = true" if hive else "")
    if hive:
        types = ", ".join(f"'{c}': '{t}'" for c, t in hive.items())
        options += f", hive_types = {{{types}}}"
    return (
        f"create view {ident(schema)}.{ident(table)} as "  # noqa: S608 (names from the lake)
        f"select * from read_parquet('{files}'{options})"
    )


def write_lake_catalog(lake: Path, target: Path, schemas: tuple[str, ...]) -> list[str]:
    """Write `target`: a view per lake table of `schemas`; returns `schema.table` names."""
    target = Path(target)
    aside = target.with_name(target.name + ".new")
    aside.unlink(missing_ok=True)
    written = []
    with duckdb.connect(str(aside)) as con:
        for schema in schemas:
            con.execute(f"create schema if not exists {ident(schema)}")
        for schema, table, folder in lake_tables(lake, schemas):
            con.execute(view_sql(schema, table, folder))
            written.append(f"{schema}.{table}")
    os.replace(aside, target)
    return written
