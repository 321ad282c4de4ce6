"""Archival: per-interaction marts older than the retention window move to the `archive` schema;
views in the `history` schema show active plus archived rows under the marts' own names.

For every archived relation, the days older than the cutoff that are still in `marts` replace
their copy in `archive` and leave `marts` (see `move_to_archive` for the two transactions). So
a rebuild of an old day (a backfill) simply moves again, and a second move with nothing new
changes nothing.
The totals of each history view over the days moved (rows and the sums of the measures in
`ARCHIVED`) are taken before and after; if they differ, the deletion from `marts` is rolled back.
Only those days can change (the other days' rows are not written), so a move costs what it moves,
not the whole history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import duckdb

from sources.warehouse import table_columns, transaction

# relation -> (day column, columns whose sums must survive a move)
ARCHIVED: dict[str, tuple[str, tuple[str, ...]]] = {
    "interactions": ("interaction_day", ("input_tokens", "output_tokens")),
    "cost_breakdown": ("interaction_day", ("total_cost_usd",)),
    "sessions": ("session_day", ("total_cost_usd",)),
}


@dataclass(frozen=True)
class Totals:
    rows: int
    sums: tuple[Decimal | int, ...]


@dataclass(frozen=True)
class Move:
    relation: str
    days_moved: int
    rows_moved: int
    before: Totals
    after: Totals

    @property
    def lossless(self) -> bool:
        return self.before == self.after


class ArchiveMismatch(RuntimeError):
    """A move would have changed what the history views show; it was rolled back."""

    def __init__(self, moves: list[Move]) -> None:
        self.moves = moves
        bad = ", ".join(f"{m.relation}: {m.before} -> {m.after}" for m in moves if not m.lossless)
        super().__init__(f"archiving would change totals ({bad}); nothing was moved")


def history_view_sql(relation: str, catalog: str | None = None) -> str:
    """Active rows, plus archived rows of the days no longer (or not again) in `marts`."""
    day, _ = ARCHIVED[relation]
    prefix = f"{catalog}." if catalog else ""
    return (
        f"select * from {prefix}marts.{relation} union all by name "  # noqa: S608 (constants)
        f"select * from {prefix}archive.{relation} "
        f"where {day} not in "
        f"(select distinct {day} from {prefix}marts.{relation} where {day} is not null)"
    )


def _totals(con: duckdb.DuckDBPyConnection, relation: str, days: list[dt.date]) -> Totals:
    """Rows and sums of `history.<relation>` on `days` (read by day: the filter prunes)."""
    day, measures = ARCHIVED[relation]
    if not days:
        return Totals(0, tuple(0 for _ in measures))
    sums = ", ".join(f"coalesce(sum({m}), 0)" for m in measures)
    row = con.execute(
        f"select count(*), {sums} from history.{relation} "  # noqa: S608 (constants)
        f"where {day} between $first and $last and list_contains($days, {day})",
        {"first": min(days), "last": max(days), "days": days},
    ).fetchall()[0]
    return Totals(int(row[0]), tuple(row[1:]))


def history_rows(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    """The rows of `history.<relation>`, without reading the history: the two tables' row counts
    (kept by DuckDB) less the archived rows the view hides, those of the days `marts` holds (found
    by a join DuckDB prunes to those days). Counting the view itself read every archived day (0.7 s
    per relation at a year of 100x, three times that at three years)."""
    day, _ = ARCHIVED[relation]
    days = f"select distinct {day} from marts.{relation} where {day} is not null"  # noqa: S608
    hidden = (  # the view's `not in`, turned around: a NULL day is hidden unless `days` is empty
        f"(select count(*) from archive.{relation} where {day} in ({days})) + "  # noqa: S608
        f"(select count(*) from archive.{relation} where {day} is null and exists ({days}))"
    )
    sql = (
        f"select (select count(*) from marts.{relation}) "  # noqa: S608 (constants)
        f"+ (select count(*) from archive.{relation}) - ({hidden})"
    )
    return con.execute(sql).fetchall()[0][0]


def ensure_archive(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Archive tables shaped like the marts (new mart columns are added) and the history views.
    Returns the archived relations whose mart exists."""
    con.execute("create schema if not exists archive")
    con.execute("create schema if not exists history")
    present = []
    for relation in ARCHIVED:
        mart = table_columns(con, "marts", relation)
        if not mart:
            continue
        present.append(relation)
        con.execute(
            f"create table if not exists archive.{relation} as "  # noqa: S608 (constants)
            f"select * from marts.{relation} where false"
        )
        archived = table_columns(con, "archive", relation)
        for column, data_type in mart.items():
            if column not in archived:  # names and types from the catalog
                con.execute(f'alter table archive.{relation} add column "{column}" {data_type}')
        con.execute(f"create or replace view history.{relation} as {history_view_sql(relation)}")
    return present


def move_to_archive(con: duckdb.DuckDBPyConnection, cutoff: dt.date) -> list[Move]:
    """Move every archived mart's days before `cutoff` into `archive`.

    Two transactions per relation: first the days are copied into `archive` (replacing any older
    copy of them) and committed; the history views still show them once, from `marts`. Then they
    are deleted from `marts`, and that is committed only if the history view's totals are what they
    were before the copy. A crash between the two leaves a copy that the next move replaces.
    (One transaction for both steps hit a DuckDB 2.0 bug: rows inserted into one table and then
    deleted from another in the same transaction, above a row group in size, vanished from scans
    of the first table. The check caught it.)
    """
    moves = []
    for relation in ensure_archive(con):
        day, _ = ARCHIVED[relation]
        params = {"cutoff": cutoff}
        moved_days = [
            d
            for (d,) in con.execute(
                f"select distinct {day} from marts.{relation} where {day} < $cutoff "  # noqa: S608
                "order by 1",
                params,
            ).fetchall()
        ]
        before = _totals(con, relation, moved_days)
        with transaction(con):
            days = con.execute(
                f"select count(distinct {day}), count(*) from marts.{relation} "  # noqa: S608
                f"where {day} < $cutoff",
                params,
            ).fetchall()[0]
            con.execute(
                f"delete from archive.{relation} where {day} in "  # noqa: S608 (constants)
                f"(select distinct {day} from marts.{relation} where {day} < $cutoff)",
                params,
            )
            con.execute(
                f"insert into archive.{relation} by name "  # noqa: S608 (constants)
                f"select * from marts.{relation} where {day} < $cutoff",
                params,
            )
        move = None
        try:
            with transaction(con):
                con.execute(f"delete from marts.{relation} where {day} < $cutoff", params)  # noqa: S608
                after = _totals(con, relation, moved_days)
                move = Move(relation, int(days[0]), int(days[1]), before, after)
                if not move.lossless:
                    raise ArchiveMismatch([move])
        except ArchiveMismatch:
            pass  # rolled back: marts keep the days; the archive's copy stays hidden
        moves.append(move)
    if not all(m.lossless for m in moves):
        raise ArchiveMismatch(moves)
    return moves
