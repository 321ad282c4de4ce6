"""Archival of the per-interaction marts: days older than COSTWATCH_RETENTION_DAYS (default 365)
move from `marts` to `archive`; the `history` views show both under the marts' names.

Not partitioned: each run moves whatever has fallen out of the window (usually one day, or
nothing), after the dbt build and before the published copy. A backfill of an old day rebuilds it
in `marts` and the same run moves it back, replacing its archived copy.
"""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.dbt import dbt_models
from assets.partitions import day_results
from assets.resources import RetentionResource
from sources.publishing.archive import ARCHIVED, ArchiveMismatch, history_rows, move_to_archive

ARCHIVE_KEYS = {r: dg.AssetKey(["archive", r]) for r in ARCHIVED}
HISTORY_KEYS = {r: dg.AssetKey(["history", r]) for r in ARCHIVED}
MART_DEPS = {r: k for k in dbt_models.keys if k.path[0] == "marts" for r in [k.path[-1]]}


@dg.multi_asset(
    specs=[
        *(
            dg.AssetSpec(
                ARCHIVE_KEYS[r],
                deps=[MART_DEPS[r]],
                kinds={"duckdb"},
                description=f"marts.{r} rows older than the retention window.",
            )
            for r in ARCHIVED
        ),
        *(
            dg.AssetSpec(
                HISTORY_KEYS[r],
                deps=[ARCHIVE_KEYS[r]],
                kinds={"duckdb"},
                description=f"View: marts.{r} plus archive.{r}, one name for all of history.",
            )
            for r in ARCHIVED
        ),
    ],
    name="archive_old_days",
    pool="warehouse",
    group_name="archive",
    check_specs=[
        dg.AssetCheckSpec(
            "archive_lost_nothing",
            asset=ARCHIVE_KEYS[r],
            description=(
                f"Rows and sums of history.{r} are the same before and after the move (else the "
                "move is rolled back)."
            ),
        )
        for r in ARCHIVED
    ],
)
def archive_old_days(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, retention: RetentionResource
):
    cutoff = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=retention.retention_days)
    with duckdb.get_connection() as con:
        try:
            moves = move_to_archive(con, cutoff)
        except ArchiveMismatch as exc:
            context.log.error(str(exc))
            moves = exc.moves
        rows = {m.relation: history_rows(con, m.relation) for m in moves}
    for m in moves:
        rolled_back = not m.lossless  # only a lossless move is committed
        context.log.info(
            f"{m.relation}: {0 if rolled_back else m.rows_moved} rows of "
            f"{0 if rolled_back else m.days_moved} days archived"
        )
        totals = {  # of the history view on the days moved
            "rows_before": m.before.rows,
            "rows_after": m.after.rows,
            "sums_before": [str(x) for x in m.before.sums],
            "sums_after": [str(x) for x in m.after.sums],
        }
        yield dg.MaterializeResult(
            asset_key=ARCHIVE_KEYS[m.relation],
            metadata={
                "cutoff_day": str(cutoff),
                "retention_days": retention.retention_days,
                "rows_moved": 0 if rolled_back else m.rows_moved,
                "days_moved": 0 if rolled_back else m.days_moved,
                "rolled_back": rolled_back,
            },
        )
        yield dg.MaterializeResult(
            asset_key=HISTORY_KEYS[m.relation], metadata={"rows": rows[m.relation]}
        )
        yield from day_results(
            context,
            dg.AssetCheckResult(
                asset_key=ARCHIVE_KEYS[m.relation],
                check_name="archive_lost_nothing",
                passed=m.lossless,
                metadata=totals,
            ),
        )
