"""The DuckDB warehouse and the Spark lake, kept in step around a dbt build on Spark (no Dagster).

On the Spark engine (docs/spark.md) the Python steps still land their tables in the DuckDB
warehouse (`raw.*`) and the steps after dbt (parity checks, archive, monthly close, publish,
report, the budget sensor) still read it; dbt's models run on Spark over the lake. So a build on
Spark is:

1. `export_sources`: every dbt source table written to `<lake>/<schema>/<table>/` as Parquet
   (written aside, then swapped in; the raw event tables by day, only the days that changed:
   sources/spark/source_days.py), which the dbt project declares as external tables
   (macros/lake_sources.sql);
2. the dbt build on Spark (tables under `<lake>/warehouse/<schema>.db/<table>/`, window-rebuilt
   ones partitioned by their day column);
3. `mirror`: what the steps after dbt read (the marts and snapshots) copied back into the
   warehouse: a partitioned table by the day partitions the build wrote or dropped, any other
   table whole.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from sources.spark.catalog import PARTITION, partition_types
from sources.spark.source_days import export_by_day, is_by_day
from sources.warehouse import ident, table_columns, transaction

MIRRORED_SCHEMAS = ("marts", "snapshots")


@dataclass(frozen=True)
class Relation:
    schema: str
    name: str
    # a model with an enforced contract: its columns in their declared order, with their types
    # (Spark moves a partition column last and has no JSON type); else empty: the lake's
    columns: tuple[str, ...] = ()
    types: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{ident(self.schema)}.{ident(self.name)}"


def dbt_sources(manifest: dict) -> list[tuple[str, str]]:
    """(schema, table) of every dbt source, as the project declares them."""
    found = {(s["schema"], s["identifier"]) for s in manifest["sources"].values()}
    return sorted(found)


def mirrored_relations(manifest: dict) -> list[Relation]:
    """The models and snapshots the steps after dbt read, with their declared columns."""
    out = []
    for node in manifest["nodes"].values():
        if node["resource_type"] in ("model", "snapshot") and node["schema"] in MIRRORED_SCHEMAS:
            if node["config"].get("materialized") in ("view", "ephemeral"):
                continue
            columns = node.get("columns") or {}
            types = tuple(str(c.get("data_type") or "") for c in columns.values())
            if (node["config"].get("contract") or {}).get("enforced") and all(types):
                out.append(Relation(node["schema"], node["name"], tuple(columns), types))
            else:
                out.append(Relation(node["schema"], node["name"]))
    return sorted(out, key=lambda r: (r.schema, r.name))


def export_sources(
    con: duckdb.DuckDBPyConnection, lake: Path, tables: list[tuple[str, str]]
) -> dict[str, int]:
    """Write each warehouse table to `<lake>/<schema>/<table>/`; returns the rows written per
    table.

    A table's new folder (a day's file, for a table written by day) is complete before it
    replaces the old one, so a build never reads a half-written table; a table missing from the
    warehouse is an error that names it."""
    rows: dict[str, int] = {}
    for schema, table in tables:
        columns = table_columns(con, schema, table)
        if not columns:
            raise RuntimeError(
                f"{schema}.{table} is not in the warehouse: run the assets that write it "
                "(a full `costwatch run`) before building on Spark"
            )
        folder = source_folder(lake, schema, table)
        if is_by_day(columns):
            done = export_by_day(con, folder, schema, table)
            rows[f"{schema}.{table}"] = done["rows_written"]
            continue
        aside = folder.with_name(f".{table}.new")
        old = folder.with_name(f".{table}.old")
        for leftover in (aside, old):
            shutil.rmtree(leftover, ignore_errors=True)
        aside.mkdir(parents=True)
        path = str(aside / "part-0.parquet").replace("'", "''")
        # COPY answers the number of rows it wrote
        (count,) = con.execute(
            f"copy {ident(schema)}.{ident(table)} to '{path}' (format parquet)"
        ).fetchone()
        if folder.exists():
            os.replace(folder, old)
        os.replace(aside, folder)
        shutil.rmtree(old, ignore_errors=True)
        rows[f"{schema}.{table}"] = count
    return rows


def source_folder(lake: Path, schema: str, table: str) -> Path:
    """Where a dbt source table of the warehouse is in the lake (`export_sources`)."""
    return Path(lake) / schema / table


def lake_folder(lake: Path, relation: Relation) -> Path:
    return Path(lake) / "warehouse" / f"{relation.schema}.db" / relation.name


def _partitions(folder: Path) -> dict[str, float]:
    """`column=value` folder name -> newest file time in it, for a table partitioned by one
    column (the window-rebuilt models are)."""
    out = {}
    for sub in folder.iterdir():
        if sub.is_dir() and PARTITION.fullmatch(sub.name):
            times = [p.stat().st_mtime for p in sub.rglob("*") if p.is_file()]
            out[sub.name] = max(times, default=0.0)
    return out


def _source(folder: Path, files: list[Path] | None = None) -> str:
    """A read_parquet over the table folder (or the listed files), partition columns typed.
    By name: partitions written before a version added a column lack it (NULL there), as dbt's
    `append_new_columns` leaves them."""
    if files is not None:
        listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
        target = f"[{listed}]"
    else:
        target = "'" + str(folder / "**" / "*.parquet").replace("'", "''") + "'"
    hive = partition_types(folder)
    if not hive:
        return f"read_parquet({target}, union_by_name = true)"
    types = ", ".join(f"'{c}': '{t}'" for c, t in hive.items())
    return (
        f"read_parquet({target}, union_by_name = true, hive_partitioning = true, "
        f"hive_types = {{{types}}})"
    )


def _declared(relation: Relation) -> str:
    pairs = zip(relation.columns, relation.types, strict=True)
    return ", ".join(f"{ident(c)} {t}" for c, t in pairs)


def _lake_columns(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, str]:
    """Column name -> type of what `source` reads, in order."""
    return {r[0]: r[1] for r in con.execute(f"describe select * from {source}").fetchall()}  # noqa: S608


def _add_new_columns(
    con: duckdb.DuckDBPyConnection,
    relation: Relation,
    lake_columns: dict[str, str],
    existing: dict[str, str],
) -> None:
    """Columns the lake has and the warehouse table lacks (a new version added them; dbt's
    `append_new_columns` added them in the lake): added to the table, typed as the model declares
    them, else as the lake has them. Its other rows get NULL, as the lake's older partitions."""
    declared = dict(zip(relation.columns, relation.types, strict=True)) if relation.types else {}
    for column, lake_type in lake_columns.items():
        if column not in existing:
            con.execute(
                f"alter table {relation.qualified} add column {ident(column)} "
                f"{declared.get(column, lake_type)}"
            )


@dataclass
class Mirrored:
    relation: str
    how: str  # "whole" | "days"
    days: list[dt.date]


def mirror(
    con: duckdb.DuckDBPyConnection, lake: Path, relations: list[Relation], since: float
) -> list[Mirrored]:
    """Copy each relation from the lake into the warehouse, in one transaction.

    A table partitioned by day is copied by the days whose partition the build wrote (files
    newer than `since`) or dropped (days the warehouse has that the lake no longer has); the
    rows of other days are left as they are (the archive may have moved old days out of the
    warehouse's marts). Any other table is replaced whole: its rows when its columns are the
    same, else the table (in the declared column order and types of a contracted model, else in
    the lake's order, where Spark puts a partition column last)."""
    done: list[Mirrored] = []
    with transaction(con):
        for relation in relations:
            folder = lake_folder(lake, relation)
            if not folder.is_dir():
                raise RuntimeError(
                    f"{relation.schema}.{relation.name} is not in the lake ({folder}): the dbt "
                    "build on Spark did not write it"
                )
            con.execute(f"create schema if not exists {ident(relation.schema)}")
            if not any(folder.rglob("*.parquet")):  # Spark writes no file for no rows
                _empty(con, relation)
                done.append(Mirrored(f"{relation.schema}.{relation.name}", "whole", []))
                continue
            source = _source(folder)
            columns = _lake_columns(con, source)
            existing = table_columns(con, relation.schema, relation.name)
            if existing and set(existing) < set(columns):
                _add_new_columns(con, relation, columns, existing)
                existing = table_columns(con, relation.schema, relation.name)
            hive = partition_types(folder)
            if len(hive) == 1 and existing and set(existing) == set(columns):
                (column,) = hive
                days = _changed_days(con, relation, folder, column, since)
                _replace_days(con, relation, folder, column, days)
                done.append(Mirrored(f"{relation.schema}.{relation.name}", "days", days))
                continue
            if existing and set(existing) == set(columns):  # keeps its columns' order, types
                con.execute(f"delete from {relation.qualified}")  # noqa: S608
                con.execute(f"insert into {relation.qualified} by name select * from {source}")  # noqa: S608
            elif relation.types:
                con.execute(f"create or replace table {relation.qualified} ({_declared(relation)})")
                con.execute(f"insert into {relation.qualified} by name select * from {source}")  # noqa: S608
            else:
                con.execute(
                    f"create or replace table {relation.qualified} as select * from {source}"  # noqa: S608
                )
            done.append(Mirrored(f"{relation.schema}.{relation.name}", "whole", []))
    return done


def _empty(con: duckdb.DuckDBPyConnection, relation: Relation) -> None:
    if table_columns(con, relation.schema, relation.name):
        con.execute(f"delete from {relation.qualified}")  # noqa: S608
        return
    if not relation.types:
        raise RuntimeError(
            f"{relation.schema}.{relation.name} is empty in the lake and its columns' types are "
            "not declared: declare them in its YAML (a contract) to mirror it"
        )
    con.execute(f"create table {relation.qualified} ({_declared(relation)})")


def _day(folder_name: str) -> dt.date:
    return dt.date.fromisoformat(folder_name.split("=", 1)[1])


def _changed_days(
    con: duckdb.DuckDBPyConnection, relation: Relation, folder: Path, column: str, since: float
) -> list[dt.date]:
    parts = _partitions(folder)
    written = {_day(name) for name, newest in parts.items() if newest >= since}
    in_lake = {_day(name) for name in parts}
    in_warehouse = {
        d
        for (d,) in con.execute(
            f"select distinct {ident(column)} from {relation.qualified}"  # noqa: S608
        ).fetchall()
    }
    return sorted(written | (in_warehouse - in_lake))


def _replace_days(
    con: duckdb.DuckDBPyConnection,
    relation: Relation,
    folder: Path,
    column: str,
    days: list[dt.date],
) -> None:
    if not days:
        return
    con.execute(
        f"delete from {relation.qualified} where {ident(column)} in (select unnest($d))",  # noqa: S608
        {"d": days},
    )
    files = [
        f
        for d in days
        if (folder / f"{column}={d.isoformat()}").is_dir()
        for f in sorted((folder / f"{column}={d.isoformat()}").rglob("*.parquet"))
    ]
    if files:
        con.execute(
            f"insert into {relation.qualified} by name select * from {_source(folder, files)}"  # noqa: S608
        )


def mirror_since(lake: Path) -> float:
    """The start of the last build whose mirror completed (0 before the first): a failed build
    leaves it, so the next mirror also copies what the failed one wrote. Times are the file
    system's (file modification times), never this machine's clock against another's. Also
    marks the start of this build (`commit_mirror` makes it the new mark)."""
    folder = Path(lake) / "_costwatch"
    folder.mkdir(parents=True, exist_ok=True)
    done, started = folder / "mirrored", folder / "building"
    if not done.exists():
        done.touch()
        os.utime(done, (0, 0))
    started.touch()
    os.utime(started)  # now, by the file system's clock
    return done.stat().st_mtime


def commit_mirror(lake: Path) -> None:
    folder = Path(lake) / "_costwatch"
    os.replace(folder / "building", folder / "mirrored")
