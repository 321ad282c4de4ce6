"""Ingestion of the application's event logs into raw.app_events / raw.event_quarantine."""

import contextlib
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from assets.partitions import daily_partitions, day_range, day_results, single_run
from assets.resources import EngineResource, EventLogResource
from sources.events.log import IngestResult, ingest_range
from sources.pricing.model_catalog import map_new_models
from sources.settings import ENV, current, read_limits
from sources.warehouse import note_unpublished

APP_EVENTS = dg.AssetKey(["raw", "app_events"])
QUARANTINE = dg.AssetKey(["raw", "event_quarantine"])
MODEL_ALIASES = dg.AssetKey(["raw", "model_aliases"])
QUARANTINE_WARN_SHARE = 0.01

CHECKS = [
    dg.AssetCheckSpec(
        "lines_accounted_for",
        asset=APP_EVENTS,
        description="Per file and day: lines read = accepted + duplicates + quarantined + blank.",
    ),
    dg.AssetCheckSpec(
        "quarantine_share",
        asset=APP_EVENTS,
        description=f"At most {QUARANTINE_WARN_SHARE:.0%} of lines quarantined (warns).",
    ),
]


class IngestConfig(dg.Config):
    """Run configuration of the ingestion (the UI's launchpad, `costwatch run` flags)."""

    accept_removed_files: bool = Field(
        default=False,
        description=(
            "Let a rerun drop stored events whose files are gone or shorter (deleted or moved "
            "logs). Off: such a rerun fails, naming the days and files, and changes nothing."
        ),
    )


PER_DAY_COLUMNS = ("lines_read", "accepted", "duplicates", "quarantined", "blank")


def _per_day_table(result: IngestResult) -> dg.TableMetadataValue:
    """Line accounting per UTC day, as a table the UI renders."""
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord({"day": str(day), **{c: counts[c] for c in PER_DAY_COLUMNS}})
            for day, counts in sorted(result.per_day.items())
        ],
        schema=dg.TableSchema(
            columns=[dg.TableColumn("day", "date")]
            + [dg.TableColumn(c, "int") for c in PER_DAY_COLUMNS]
        ),
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            APP_EVENTS,
            kinds={"duckdb", "python"},
            description=(
                "Accepted application events (JSON Lines, any depth, .jsonl and .jsonl.gz, and "
                "OpenTelemetry spans in .otlp.jsonl files: docs/opentelemetry.md) of the "
                "partition's UTC days, validated and deduplicated by event_id. Re-running a "
                "partition replaces exactly that partition's rows."
            ),
        ),
        dg.AssetSpec(
            QUARANTINE,
            kinds={"duckdb"},
            description="Every invalid line with its file, line number, raw text and reason.",
        ),
        dg.AssetSpec(
            MODEL_ALIASES,
            kinds={"duckdb"},
            description="Logged (provider, model) -> genai-prices canonical model id.",
        ),
    ],
    name="ingest_app_events",
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    pool="warehouse",
    group_name="ingestion",
    check_specs=CHECKS,
)
def ingest_app_events(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    duckdb: DuckDBResource,
    event_logs: EventLogResource,
    engine: EngineResource,
):
    start, end = day_range(context)
    spark = None  # read, parsed and deduplicated in this process's DuckDB
    if engine.on_spark and engine.spark_master.startswith("sc://"):
        # a Spark Connect server runs no code of this package unless it is installed there
        context.log.info("Spark Connect: event files read and parsed in this process (untested)")
    elif engine.on_spark:  # the files read and parsed by Spark tasks (docs/spark.md)
        from sources.spark.ingest import SparkIngestion

        spark = SparkIngestion(
            engine.spark_master, Path(engine.lake), min_bytes=engine.spark_ingest_min_mb * 2**20
        )
    with duckdb.get_connection() as con:
        note_unpublished(con, start, end)
        with spark or contextlib.nullcontext():  # its Spark session stopped with the load
            result = ingest_range(
                con,
                event_logs.path,
                start,
                end,
                limits=read_limits(),
                accept_removed=config.accept_removed_files,
                read_and_parse=spark.read_and_parse if spark else None,
                find_copies=spark.find_stored_copies if spark else None,
                scratch_dir=current().scratch_dir,
            )
        # the run's days: a model of another day was mapped by the run that loaded it
        unknown_models = map_new_models(
            con,
            "select provider, model from raw.app_events where event_day between $s and $e",
            {"s": start, "e": end},
        )
        bad_files = con.execute(
            """
            select source_file, event_day from raw.event_file_stats
            where event_day between $s and $e
              and lines_read <> accepted + duplicates + quarantined + blank
            """,
            {"s": start, "e": end},
        ).fetchall()
    if spark is not None:
        context.log.info(_where_parsed(result.stage_seconds, engine))
    totals = result.totals()
    for day, c in sorted(result.per_day.items()):
        context.log.info(f"{day}: {c}")
    for name, c in result.otel_spans.items():
        context.log.info(f"{name}: {c}")
    for day, info in sorted(result.removed.items()):
        context.log.warning(
            f"{day}: {info['events']} events removed as accepted (accept_removed_files): their "
            f"files are gone or shorter: {', '.join(info['files'])}"
        )
    if result.late_days:
        context.log.warning(
            "New or changed files also hold events of days outside this run: "
            f"{[str(d) for d in result.late_days]}. Re-run those partitions to include them."
        )
    yield dg.MaterializeResult(
        asset_key=APP_EVENTS,
        metadata={
            **{k: dg.MetadataValue.int(v) for k, v in totals.items()},
            "files_scanned": result.files_scanned,
            "files_read": result.files_read,
            "per_day": _per_day_table(result),
            "quarantine_reasons": dg.MetadataValue.json(result.quarantine_reasons),
            "late_days": dg.MetadataValue.json([str(d) for d in result.late_days]),
            "removed": dg.MetadataValue.json(
                {str(d): info for d, info in sorted(result.removed.items())}
            ),
            # per OTLP file: batches, spans, events, quarantined, ignored by kind
            "otel_spans": dg.MetadataValue.json(result.otel_spans),
            # where the load's time went, wall seconds per stage
            "stage_seconds": dg.MetadataValue.json(result.stage_seconds),
        },
    )
    yield dg.MaterializeResult(
        asset_key=QUARANTINE,
        metadata={
            "quarantined": dg.MetadataValue.int(totals["quarantined"]),
            "reasons": dg.MetadataValue.json(result.quarantine_reasons),
        },
    )
    yield dg.MaterializeResult(
        asset_key=MODEL_ALIASES,
        metadata={"unknown_models": dg.MetadataValue.json([list(x) for x in unknown_models])},
    )
    yield from day_results(
        context,
        dg.AssetCheckResult(
            check_name="lines_accounted_for",
            passed=not bad_files
            and totals["lines_read"]
            == sum(totals[k] for k in ("accepted", "duplicates", "quarantined", "blank")),
            metadata={
                "mismatched_files": dg.MetadataValue.json([[f, str(d)] for f, d in bad_files])
            },
        ),
        failing_days={str(d) for _, d in bad_files},
    )
    share = totals["quarantined"] / totals["lines_read"] if totals["lines_read"] else 0.0
    yield from day_results(
        context,
        dg.AssetCheckResult(
            check_name="quarantine_share",
            passed=share <= QUARANTINE_WARN_SHARE,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "quarantined": totals["quarantined"],
                "lines_read": totals["lines_read"],
                "share": dg.MetadataValue.float(round(share, 6)),
                "reasons": dg.MetadataValue.json(result.quarantine_reasons),
            },
        ),
        failing_days={
            str(d)
            for d, c in result.per_day.items()
            if c["lines_read"] and c["quarantined"] / c["lines_read"] > QUARANTINE_WARN_SHARE
        },
    )


def _where_parsed(stages: dict[str, float], engine: EngineResource) -> str:
    from sources.spark.ingest import BELOW_SPARK_SIZE

    if BELOW_SPARK_SIZE in stages:
        return (
            f"event files read and parsed, and their stored copies searched for, in this process: "
            f"fewer than {ENV['spark_ingest_min_mb']}={engine.spark_ingest_min_mb} MB to read, "
            "less than a Spark application's start-up"
        )
    return (
        f"event files read and parsed, and their stored copies searched for in the lake, by "
        f"Spark tasks on {engine.spark_master}"
    )
