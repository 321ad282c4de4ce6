"""The dbt models as Dagster assets: one partitioned multi-asset, one dbt invocation per run.

dbt tests become asset checks. The partition window reaches dbt as COSTWATCH_WINDOW_START/END
environment variables (read by the `window_start()`/`window_end()` macros): unlike `--vars`, they
keep dbt's partial parsing.
"""

import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_duckdb import DuckDBResource

from assets.partitions import daily_partitions, day_range, day_results, single_run
from assets.resources import EngineResource
from sources.settings import DBT_PROJECT_DIR, current, temporary_env, tools_on_path
from sources.spark import lake
from sources.spark.jvm import stop_jvm
from sources.warehouse import note_unpublished
from sources.windows import read_windows, widest

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def _sources_newer_than(manifest: Path) -> bool:
    stamp = manifest.stat().st_mtime
    watched = [DBT_PROJECT_DIR / "dbt_project.yml"]
    for sub in ("models", "macros", "tests", "snapshots", "seeds"):
        watched.extend((DBT_PROJECT_DIR / sub).rglob("*"))
    return any(p.is_file() and p.stat().st_mtime > stamp for p in watched)


def ensure_manifest() -> Path:
    """The dbt manifest, prepared by dagster-dbt's own preparer (`dbt parse`, guarded against
    concurrent processes) when it is missing or older than the project's files.

    A fresh clone has no manifest, and `@dbt_assets` needs one at import time. `DbtProject`'s
    `prepare_if_dev()` prepares only under `dagster dev`; Costwatch's commands need the same
    outside it, so the staleness test is ours and the preparation is dagster-dbt's.
    """
    manifest = dbt_project.manifest_path
    if manifest.exists() and not _sources_newer_than(manifest) and _same_engine(manifest):
        return manifest
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with tools_on_path():  # the preparer runs `dbt` from PATH: this environment's
        try:
            dbt_project.preparer.prepare(dbt_project)
        except Exception as exc:
            raise RuntimeError(
                "dbt parse failed; fix the dbt project and retry (`cd dbt_project && dbt parse`): "
                f"{exc}"
            ) from None
    return manifest


def _same_engine(manifest: Path) -> bool:
    """The manifest was parsed for the engine of this environment (a few tests are per engine)."""
    adapter = json.loads(manifest.read_text())["metadata"].get("adapter_type")
    return adapter == current().engine


class CostwatchTranslator(DagsterDbtTranslator):
    """Asset keys <schema>/<model> (staging/..., intermediate/..., marts/...), grouped by layer."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        schema = dbt_resource_props["config"].get("schema") or dbt_resource_props["schema"]
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "ingestion"
        return dbt_resource_props["config"].get("schema") or "dbt"


def window_env(start: str, end: str):
    """The dbt window variables for the dbt subprocess started inside the block."""
    return temporary_env({"COSTWATCH_WINDOW_START": start, "COSTWATCH_WINDOW_END": end})


# dbt's unit tests check the models' SQL on fixed inputs, not the day's data: they run with the
# test suite (tests/integration/test_dbt_unit_tests.py), as dbt recommends, not in every run
DAILY_EXCLUDE = "resource_type:unit_test"


@dbt_assets(
    manifest=ensure_manifest(),
    exclude=DAILY_EXCLUDE,
    dagster_dbt_translator=CostwatchTranslator(),
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    pool="warehouse",
    name="dbt_models",
)
def dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    duckdb: DuckDBResource,
    engine: EngineResource,
):
    start, end = day_range(context)
    before, after = widest(WINDOWS)  # the days the marts may rewrite around the run's window
    with duckdb.get_connection() as con:  # closed before dbt opens the warehouse
        note_unpublished(con, start - dt.timedelta(days=before), end + dt.timedelta(days=after))
        if engine.on_spark:
            since = lake.mirror_since(Path(engine.lake))
            rows = lake.export_sources(con, Path(engine.lake), lake.dbt_sources(MANIFEST))
            context.log.info(
                f"raw tables copied to the lake {engine.lake} (rows written; the event tables "
                f"by day, only the days that changed): {rows}"
            )
    if stop_jvm():  # the Spark ingestion's: dbt-spark starts its own session, in dbt's process
        context.log.info("the ingestion's Spark JVM stopped before dbt")
    context.log.info(f"dbt build on {engine.engine} for {start}..{end}")
    target = _run_target(context.run_id)
    kept = current().home / PARTIAL_PARSE
    _copy_atomically(kept, target / PARTIAL_PARSE.name)
    with window_env(start.isoformat(), end.isoformat()):
        invocation = dbt.cli(["build"], context=context, target_path=target)
    context.log.info(f"dbt {getattr(invocation.process, 'how', 'started')}")
    for event in invocation.stream():
        if isinstance(event, dg.AssetCheckResult):
            # a dbt test reads the run's whole window: each day of a multi-day run gets its verdict
            yield from day_results(context, event)
        else:
            yield event
    context.log.info(parse_note(target / "dbt.log"))
    _copy_atomically(target / PARTIAL_PARSE.name, kept)
    _remove_run_target(invocation.target_path)
    if engine.on_spark:
        with duckdb.get_connection() as con:
            copied = lake.mirror(con, Path(engine.lake), lake.mirrored_relations(MANIFEST), since)
        lake.commit_mirror(Path(engine.lake))
        context.log.info(
            "marts and snapshots copied back from the lake: "
            + "; ".join(
                f"{m.relation} ({m.how}{', ' + str(len(m.days)) + ' days' if m.days else ''})"
                for m in copied
            )
        )


# dbt parses the project again when its saved parse was made with another profile (the profile
# reads the warehouse path, the engine, ...: another home) and saves the new parse in the run's
# target folder, which is removed after the run. Each home keeps the parse of its last run, so
# its next run parses only what changed (a full parse costs ~4 s a run).
PARTIAL_PARSE = Path("dbt") / "partial_parse.msgpack"


def _run_target(run_id: str) -> Path:
    """A target folder of its own for this dbt invocation, where dagster-dbt puts them."""
    return dbt_project.project_dir / "target" / f"{run_id[:8]}-{uuid.uuid4().hex[:7]}"


def _copy_atomically(source: Path, destination: Path) -> None:
    """`source` to `destination` (if there is a source), replacing it whole: a reader never sees
    half a file, whatever is killed when."""
    if not source.is_file():
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, destination)


REUSED_PARSE = "dbt reused its saved parse of the project (only changed files parsed)"
# dbt's events (in its JSON log) that say why it parsed the whole project
WHOLE_PARSE_EVENTS = {
    "UnableToPartialParse": None,  # the reason is in the event
    "ParsedFileLoadFailed": "its saved parse could not be read",
    "PartialParsingNotEnabled": "partial parsing is off",
}


def parse_note(dbt_log: Path) -> str:
    """What dbt's log says of its parse: its saved parse reused, or the whole project and why."""
    if not dbt_log.is_file():
        return "dbt wrote no log"
    why = "no saved parse"
    for line in dbt_log.read_text(encoding="utf-8", errors="replace").splitlines():
        if '"PartialParsingEnabled"' in line:
            return REUSED_PARSE
        for event, reason in WHOLE_PARSE_EVENTS.items():
            if f'"{event}"' in line:
                why = reason or json.loads(line).get("data", {}).get("reason", event)
    return f"dbt parsed the whole project ({why})"


def _remove_run_target(target: Path) -> None:
    """Each dagster-dbt run leaves target/<run>/ (~2 MB) behind; remove it once it is streamed."""
    if target.is_dir() and target.parent == dbt_project.project_dir / "target":
        shutil.rmtree(target, ignore_errors=True)


MART_KEYS = [k for k in dbt_models.keys if k.path[0] == "marts"]
MANIFEST = json.loads(dbt_project.manifest_path.read_text())
# each window-rebuilt model's declared window (its YAML), read from the manifest
WINDOWS = read_windows(MANIFEST)
PROVIDER_MARTS_DAYS_BEFORE = max(
    WINDOWS[f"marts.{m}"].days_before for m in ("provider_usage_daily", "provider_costs_daily")
)
