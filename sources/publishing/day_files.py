"""The large day-keyed published relations as immutable per-day Parquet files (no Dagster).

A publish writes the days it changes as new files under `<published>.parts/<publish id>/` and
the new catalog (`analytics.duckdb`) has a view per relation over the exact list of files, with
`<day>=YYYY-MM-DD` folders read as the day column (filters on it open only those days' files).
Files are never modified: a reader still connected to an older catalog keeps reading the files
that catalog names; folders no catalog names any more are removed after `KEEP_UNREFERENCED`.
So a daily publish writes one day, whatever the length of the history.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb

from sources.warehouse import ident, literal

# how long files that no catalog names any more are kept: the longest a reader can keep a
# connection to an older catalog open and still query it (reconnecting reads the newest)
KEEP_UNREFERENCED = dt.timedelta(hours=24)

MANIFEST = "meta.published_files"

# A full copy writes a day per COPY, as a refresh does (DuckDB's partitioned COPY takes twice the
# CPU), unless the per-day filters would read the table more than this many times over: the point
# measured, row groups spanning 31 days each, where a COPY per day still took half the time
# (docs/performance.md, "A full copy by day").
PER_DAY_READS = 32


@dataclass(frozen=True)
class DayFile:
    day: dt.date | None
    path: str  # relative to the parts folder
    rows: int


def parts_root(target: Path) -> Path:
    """Where the published copy at `target` keeps its Parquet files."""
    return target.with_name(target.name + ".parts")


def new_publish_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


def read_manifest(pub: duckdb.DuckDBPyConnection, root: Path) -> dict[str, dict] | None:
    """relation -> {day: DayFile} of a published catalog; None when a file it names is gone."""
    out: dict[str, dict] = {}
    base = str(root)
    for relation, day, path, rows in pub.execute(
        f"select relation, day, path, row_count from {MANIFEST}"  # noqa: S608 (constant)
    ).fetchall():
        # a string join, not pathlib: thousands of files at a few years of history
        if not os.path.isfile(os.path.join(base, path)):
            return None
        out.setdefault(relation, {})[day] = DayFile(day, path, rows)
    return out


@dataclass(frozen=True)
class Partition:
    """How a relation is split into day files: by its own DATE column `name`, or by `expr`
    (a DATE expression over its columns) written as an extra column `name` that the view
    leaves out."""

    name: str
    expr: str | None = None
    reads: str | None = None  # the column `expr` reads
    # the day of the run that wrote a row (not the day of the data): a later run the same day
    # adds rows to the last published day, so it is written again
    by_run_day: bool = False

    @property
    def sql(self) -> str:
        return self.expr or ident(self.name)

    def applies_to(self, columns: dict[str, str]) -> bool:
        """The relation has what the split reads (and no column of the extra one's name)."""
        if self.expr is None:
            return self.name in columns
        return self.reads in columns and self.name not in columns


@dataclass(frozen=True)
class Refresh:
    """What a refresh writes: these days, the rows without a day, and keeps `kept`."""

    days: list[dt.date]
    kept: dict


def days_to_write(
    con: duckdb.DuckDBPyConnection,
    src: str,
    part: Partition,
    changed: tuple[dt.date, dt.date],
    previous: dict,
    touched: str | None,
) -> Refresh:
    """A refresh rewrites the changed days, every day after the last published one (new days,
    newly archived days; and that day itself when days are run days), the days of `touched`
    rows, and the rows without a day; it drops published days `src` no longer has at its start
    (archived); every other day keeps its file. Each set is found with a filter DuckDB prunes
    by day."""
    d = part.sql
    lo_src = con.execute(f"select min({d}) from {src}").fetchall()[0][0]  # noqa: S608
    after = max((k for k in previous if k is not None), default=dt.date.min)
    days = {
        r[0]
        for r in con.execute(
            f"select distinct {d} from {src} where {d} {'>=' if part.by_run_day else '>'} $after",  # noqa: S608
            {"after": after},
        ).fetchall()
    }
    span = (changed[1] - changed[0]).days
    days |= {changed[0] + dt.timedelta(days=i) for i in range(span + 1)}
    if touched:
        days |= {
            r[0]
            for r in con.execute(
                f"select distinct {d} from {src} where {touched} and {d} is not null",  # noqa: S608
                {"lo": changed[0], "hi": changed[1]},
            ).fetchall()
        }
    kept = {
        k: f
        for k, f in previous.items()
        if k is not None and lo_src is not None and lo_src <= k <= after and k not in days
    }
    return Refresh(sorted(days), kept)


def write_days(
    con: duckdb.DuckDBPyConnection,
    src: str,
    select: str,
    params: dict,
    part: Partition,
    root: Path,
    folder: str,
    days: list[dt.date] | None,
) -> list[DayFile]:
    """Write the rows of `src` of `days` (every row when None; the rows without a day with
    them) as one Parquet file per day under `root/folder`."""
    extra = f", {part.expr} as {ident(part.name)}" if part.expr else ""
    query = f"select {select}{extra} from {src}"  # noqa: S608 (identifiers quoted, key bound)
    if days is None:
        days = full_copy_days(con, src, part)
    if days is None:
        return _copy(con, query, params, part, root, f"{folder}/all")
    chosen = _copy_days(con, query, params, part, root, f"{folder}/days", days)
    nulls = f" where {part.sql} is null"
    return chosen + _copy(con, query + nulls, params, part, root, f"{folder}/none")


def full_copy_days(
    con: duckdb.DuckDBPyConnection, src: str, part: Partition
) -> list[dt.date] | None:
    """The days of every row of `src` when a full copy writes them one COPY each, as a refresh
    does; None for the one-pass partitioned COPY: when the day is computed, `src` is not a
    table, or its row groups mix so many days that the per-day filters would read it more than
    PER_DAY_READS times over (each segment of the day column counted once per day its min-max
    range spans; DuckDB skips the others)."""
    if part.expr is not None:
        return None
    try:
        rows, reads = con.execute(
            "select coalesce(sum(count), 0), "
            "coalesce(sum(count * (stats.max::DATE - stats.min::DATE + 1)), 0) "
            "from pragma_storage_info($table) "
            "where column_name = $column and segment_type <> 'VALIDITY'",
            {"table": src, "column": part.name},
        ).fetchall()[0]
    except duckdb.Error:  # a view, or statistics DuckDB does not give as dates
        return None
    if reads > PER_DAY_READS * rows:
        return None
    day = ident(part.name)
    return [
        d
        for (d,) in con.execute(
            f"select distinct {day} from {src} where {day} is not null order by 1"  # noqa: S608
        ).fetchall()
    ]


def _copy(
    con: duckdb.DuckDBPyConnection,
    query: str,
    params: dict,
    part: Partition,
    root: Path,
    folder: str,
) -> list[DayFile]:
    """Every row of `query` in one pass, a file per day (DuckDB's partitioned COPY)."""
    out = root / folder
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = con.execute(
        f"copy ({query}) to {literal(str(out))} "
        f"(format parquet, partition_by ({ident(part.name)}), return_stats, "
        "filename_pattern 'part_{i}')",
        params,
    ).fetchall()
    files = []
    # RETURN_STATS: filename, count, file size, footer size, column statistics, partition keys, ...
    for filename, count, _size, _footer, _stats, keys, *_ in rows:
        value = keys.get(part.name)
        files.append(
            DayFile(
                dt.date.fromisoformat(value) if value is not None else None,
                str(Path(filename).relative_to(root)),
                int(count),
            )
        )
    return files


def _copy_days(
    con: duckdb.DuckDBPyConnection,
    query: str,
    params: dict,
    part: Partition,
    root: Path,
    folder: str,
    days: list[dt.date],
) -> list[DayFile]:
    """The rows of `query` of each of `days`, a plain COPY per day into the file the
    partitioned COPY would write (`<name>=<day>/part_0.parquet`, without the day column), as
    many at once as DuckDB has threads, each on a cursor of its own. DuckDB's partitioned COPY
    takes twice the CPU of plain ones (31 days of `interactions`: 13.4 s against 7.6 s), and a
    day's COPY runs on about one thread (docs/performance.md). A day without rows gets no file,
    as with the partitioned COPY."""
    name = ident(part.name)
    sql = f"select * exclude ({name}) from ({query}) where {name} = $day"  # noqa: S608
    threads = int(con.execute("select current_setting('threads')").fetchall()[0][0])
    local = threading.local()
    opened: list[duckdb.DuckDBPyConnection] = []

    def copy_day(day: dt.date) -> DayFile | None:
        cursor = getattr(local, "cursor", None)
        if cursor is None:
            cursor = local.cursor = con.cursor()
            opened.append(cursor)
        path = root / folder / f"{part.name}={day.isoformat()}" / "part_0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        # RETURN_STATS of one file: filename, count, ...
        count = cursor.execute(
            f"copy ({sql}) to {literal(str(path))} (format parquet, return_stats)",
            {**params, "day": day},
        ).fetchall()[0][1]
        if not count:
            shutil.rmtree(path.parent)
            return None
        return DayFile(day, str(path.relative_to(root)), int(count))

    pool = ThreadPoolExecutor(max(1, min(threads, len(days))), "publish-day")
    try:
        written = list(pool.map(copy_day, days))
    finally:
        pool.shutdown(cancel_futures=True)
        for cursor in opened:
            cursor.close()
    return [f for f in written if f is not None]


def create_view(
    con: duckdb.DuckDBPyConnection,
    dst: str,
    columns: dict[str, str],
    part: Partition,
    root: Path,
    files: list[DayFile],
) -> None:
    """A view over exactly `files` with the columns of `columns` (name -> type) in order.

    Every file of a relation holds its published columns (a relation whose columns changed is
    written whole, publish.py), and a view over a list of files binds the first file's schema:
    so the types the view reads are the first file's (one file described, not thousands)."""
    base = str(root)
    listed = [literal(os.path.join(base, f.path)) for f in sorted(files, key=lambda f: f.path)]
    hive = f"hive_partitioning = true, hive_types = {{{literal(part.name)}: 'DATE'}}"
    source = f"read_parquet([{', '.join(listed)}], {hive})"
    first = f"read_parquet([{listed[0]}], {hive})"
    read = {r[0]: r[1] for r in con.execute(f"describe select * from {first}").fetchall()}  # noqa: S608
    select = ", ".join(
        ident(c) if read.get(c) == t else f"cast({ident(c)} as {t}) as {ident(c)}"
        for c, t in columns.items()
    )
    con.execute(f"create or replace view {dst} as select {select} from {source}")  # noqa: S608


def published_columns(con: duckdb.DuckDBPyConnection, query: str, params: dict) -> dict[str, str]:
    """Column name -> type of what `query` publishes, in order."""
    return {r[0]: r[1] for r in con.execute(f"describe {query}", params).fetchall()}


def write_manifest(con: duckdb.DuckDBPyConnection, catalog: str, files: dict[str, list]) -> None:
    rows = [(rel, f.day, f.path, f.rows) for rel, fs in files.items() for f in fs]
    con.execute(f"create schema if not exists {catalog}.meta")
    con.execute(
        f"create or replace table {catalog}.{MANIFEST} "
        "(relation VARCHAR, day DATE, path VARCHAR, row_count BIGINT)"
    )
    if rows:
        columns = [list(c) for c in zip(*rows, strict=True)]
        con.execute(
            f"insert into {catalog}.{MANIFEST} select unnest($r), unnest($d::DATE[]), "
            "unnest($p), unnest($n::BIGINT[])",
            {"r": columns[0], "d": columns[1], "p": columns[2], "n": columns[3]},
        )


def collect_garbage(root: Path, referenced: set[str], now: dt.datetime | None = None) -> list[str]:
    """Remove publish folders no catalog names, once older than KEEP_UNREFERENCED."""
    if not root.is_dir():
        return []
    now = now or dt.datetime.now(dt.UTC)
    removed = []
    for child in sorted(root.iterdir()):
        if child.name in referenced or not child.is_dir():
            continue
        age = now - dt.datetime.fromtimestamp(child.stat().st_mtime, dt.UTC)
        if age > KEEP_UNREFERENCED:
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child.name)
    return removed


def remove_publish(root: Path, publish_id: str) -> None:
    """Drop what a publish that did not complete wrote."""
    shutil.rmtree(root / publish_id, ignore_errors=True)


def referenced_publishes(files: dict[str, list[DayFile]]) -> set[str]:
    """The publish folders the day files of a catalog are in."""
    return {f.path.partition(os.sep)[0] for fs in files.values() for f in fs}
