"""benchmarks/engines.py: the scale model and its page, from measured numbers worked by hand."""

from benchmarks.engines import _parts, engine_lines, scale_model


def _m(engine: str, sessions: int, ingest: float, dbt: float) -> dict:
    parts = {"start-up": 5.0, "ingest": ingest, "dbt SQL": dbt, "dbt other": 2.0, "publish": 1.0}
    return {
        "engine": engine,
        "sessions_per_day": sessions,
        "lines": sessions * 17,
        "interactions": sessions * 15,
        "wall_s": sum(parts.values()),
        "peak_mib": 500.0,
        "dbt_sql_s": dbt / 2,
        "parts_s": parts,
    }


MEASURED = [
    _m("duckdb", 1_000, 1.0, 10.0),
    _m("duckdb", 10_000, 10.0, 19.0),
    _m("spark cluster 2x1", 1_000, 1.0, 60.0),
    _m("spark cluster 2x1", 10_000, 10.0, 78.0),
]


def test_each_part_is_fixed_plus_per_session_and_only_sparks_dbt_divides_among_workers():
    got = {(p["engine"], p["sessions_per_day"], p["workers"]): p for p in scale_model(MEASURED)}
    # DuckDB at 100,000 sessions: start-up 5, ingest 0.001 x 100k = 100, dbt SQL 9 + 100, dbt
    # other 2, publish 1
    one = got[("duckdb", 100_000, None)]
    assert round(one["projected_s"], 6) == 217.0
    assert round(one["driver_s"], 6) == 108.0 and one["largest_part"] == "dbt SQL"
    # Spark on 8 workers: dbt SQL 58 fixed + 0.002 x 100k x 2/8 = 50; the driver's as measured
    eight = got[("spark cluster 2x1", 100_000, 8)]
    assert round(eight["projected_s"], 6) == 5 + 100 + 108 + 2 + 1
    assert round(eight["driver_s"], 6) == 108.0
    # at 1,000,000 sessions on 32 workers the driver's ingestion is the largest part
    big = got[("spark cluster 2x1", 1_000_000, 32)]
    assert round(big["projected_s"], 6) == 5 + 1000 + 58 + 125 + 2 + 1
    assert big["largest_part"] == "ingest"
    assert sorted({k[2] for k in got if k[0] != "duckdb"}) == [2, 8, 32]
    assert {k[2] for k in got if k[0] == "duckdb"} == {None}  # one machine


def test_the_page_shows_every_measurement_and_projection():
    e = {
        "measured_at": "2026-12-01 03:00",
        "cores": 2,
        "executor_memory": "1g",
        "cluster_tasks": {"0": 10, "1": 12},
        "measured": MEASURED,
        "model": scale_model(MEASURED),
    }
    direct = [{"days": 365, "sessions_per_day": 10_000, "warehouse_mb": 11_414.0}]
    text = "\n".join(engine_lines(e, direct))
    row = "| duckdb | 10,000 | 150,000 | 37.0 s | 500 MiB | 5.0 | 10.0 | 19.0 | 2.0 | 1.0 |"
    assert row in text
    assert "| spark cluster 2x1 | 1,000,000 | 32 | 1,191 s | 1,008 s | ingest |" in text
    assert "its warehouse by 11 GB a year at 100x" in text and "about 1.1 TB a year" in text
    assert "Tasks per executor on the cluster: {'0': 10, '1': 12}" in text


def test_the_event_files_parsing_on_spark_divides_among_workers_the_rest_of_ingest_does_not():
    profile = {
        "run_s": 30.0,
        "steps": {
            "ingest_app_events": 8.0,
            "dbt_models": 20.0,
            "published__analytics_warehouse": 1.0,
        },
        "dbt_sql_s": 12.0,
        "ingest_stages": {"spark tasks": 5.0, "dedup": 1.0},
    }
    parts = _parts(32.0, profile)
    assert (parts["ingest on Spark"], parts["ingest"], parts["dbt SQL"], parts["dbt other"]) == (
        5.0, 3.0, 12.0, 8.0,
    )  # fmt: skip
    assert parts["start-up"] == 2.0 and parts["publish"] == 1.0
    assert sum(parts.values()) == 32.0  # the rest is "checks and Dagster"
    measured = []
    for sessions, on_spark, rest in ((1_000, 3.0, 1.0), (10_000, 12.0, 10.0)):
        m = _m("spark cluster 2x1", sessions, rest, 60.0)
        m["parts_s"]["ingest on Spark"] = on_spark
        measured.append(m)
    (eight,) = [
        p for p in scale_model(measured) if (p["sessions_per_day"], p["workers"]) == (100_000, 8)
    ]
    # ingest on Spark: 2 fixed + 0.001 x 100k x 2/8 = 27; ingest (the driver's): 0.001 x 100k = 100
    assert round(eight["projected_s"], 6) == 5 + 100 + 27 + 60 + 2 + 1
    assert round(eight["driver_s"], 6) == 5 + 100 + 2 + 1
