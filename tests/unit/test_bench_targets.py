# ruff: noqa: E501  (tables written inline)
"""The performance targets written to BENCHMARKS.json, from a run's numbers (worked by hand)."""

from benchmarks.targets import target_table, targets

NAMES = ["daily", "user week", "top users", "models", "archived range"]


def _direct(days: int, daily_s: float, publish_s: float, p95: list[float], mib: float) -> dict:
    return {
        "sessions_per_day": 10_000,
        "days": days,
        "daily_s": daily_s,
        "daily_mib": mib,
        "daily_profile": {"steps": {"published__analytics_warehouse": publish_s}},
        "queries": {n: (q / 2, q) for n, q in zip(NAMES, p95, strict=True)},
    }


def _results() -> dict:
    return {
        "query_names": NAMES,
        "ingest": {"project_s": 1.5, "floor_s": 0.5, "lines_s": 0.3},
        "direct": [
            _direct(365, 28.0, 2.0, [10, 20, 30, 40, 50], 2_000),
            _direct(1095, 33.6, 2.4, [15, 99, 120, 1, 600], 3_000),
            {**_direct(365, 99.0, 9.0, [1] * 5, 9_999), "sessions_per_day": 100},  # not 100x
        ],
        "history": [
            {
                "sessions_per_day": 10_000,
                "days": 365,
                "full_s": 1_400.0,
                "full_mib": 3_500,
                "daily_mib": 100,
            },
            {
                "sessions_per_day": 100,
                "days": 365,
                "full_s": 9_000.0,
                "full_mib": 4_000,
                "daily_mib": 100,
            },
        ],
    }


def test_every_target_gets_its_worst_measured_value_and_status():
    rows = {t["id"]: t for t in targets(_results())}
    assert list(rows) == [
        "daily_100x_1y_s", "daily_100x_3y_over_1y", "publish_growth", "ingest_vs_floor",
        "queries_p95_ms_3y", "archive_query_ms_3y", "peak_mib", "full_rebuild_100x_1y_s",
    ]  # fmt: skip
    got = {k: (t["measured"], t["limit"], t["status"]) for k, t in rows.items()}
    assert got == {
        "daily_100x_1y_s": (28.0, 30.0, "met"),
        "daily_100x_3y_over_1y": (1.2, 1.15, "missed"),  # 33.6 / 28
        "publish_growth": (0.2, 0.15, "missed"),  # 2.4 / 2.0 - 1
        "ingest_vs_floor": (3.0, 3.0, "met"),  # at the limit is within it
        "queries_p95_ms_3y": (120.0, 100.0, "missed"),  # the archived range is its own target
        "archive_query_ms_3y": (600.0, 500.0, "missed"),
        "peak_mib": (9_999.0, 4096.0, "missed"),  # any run, whatever its size
        "full_rebuild_100x_1y_s": (1_400.0, 1500.0, "met"),  # the 100x year only
    }
    assert {t["unit"] for t in rows.values()} == {"s", "x", "ratio", "ms", "MiB"}


def test_a_size_left_out_is_not_measured_rather_than_met():
    results = _results()
    results["direct"] = [d for d in results["direct"] if d["days"] != 1095]
    results["history"] = []
    rows = {t["id"]: t for t in targets(results)}
    for k in ("daily_100x_3y_over_1y", "publish_growth", "queries_p95_ms_3y",
              "archive_query_ms_3y", "full_rebuild_100x_1y_s"):  # fmt: skip
        assert (rows[k]["measured"], rows[k]["status"]) == (None, "not measured")
    table = target_table(list(rows.values()), {"ingest_vs_floor": "why"})
    assert (
        table[2]
        == "| `daily_100x_1y_s` | one new 100x day on a year of history | 28.0 s | 30.0 s | met |  |"
    )
    assert (
        "| `publish_growth` | publish time for one day, three years over one, minus 1 | - | +15.0% | not measured |  |"
        in table
    )
    assert table[5].endswith("| 3.00x | 3.00x | met | why |")


def test_a_history_the_disk_cannot_hold_is_skipped_before_it_is_built():
    from benchmarks.run import disk_needed_gb, disk_short_gb

    assert disk_needed_gb(10_000, 365) == 25.0 and disk_needed_gb(10_000, 1095) == 75.0
    # the disk the three years ran out of on 2026-12-01 is short
    assert disk_short_gb(10_000, 1095, 62 * 10**9) == 13.0
    assert disk_short_gb(10_000, 365, 50 * 10**9) == 0.0


def test_the_history_lists_are_read_as_sessions_by_days():
    from benchmarks.run import history_specs

    assert history_specs("100x365,10000x1095") == [
        ("100x365", 100, 365),
        ("10000x1095", 10000, 1095),
    ]
    assert history_specs("") == []


def test_a_history_the_disk_cannot_hold_is_named_at_the_start_of_the_run():
    """The run of 2026-12-03 skipped three years for 0.4 GB an hour after it began: said first."""
    from pathlib import Path

    from benchmarks.run import disk_warning

    where = Path("/tmp/bench")
    assert disk_warning("10000x365,10000x1095", 76 * 10**9, where) is None
    assert disk_warning("", 1, where) is None
    said = disk_warning("10000x365,10000x1095", 70 * 10**9, where)
    assert said == (
        "Disk: /tmp/bench has 70.0 GB free; the history built directly 10000x1095 needs about "
        "75 GB (5.0 more): it would be skipped when its turn comes, after the other stages. "
        "Stop now (Ctrl-C), free some and start again, or run `--direct` with fewer days."
    )
    both = disk_warning("10000x365,10000x1095", 20 * 10**9, where)
    assert (
        "10000x365 needs about 25 GB (5.0 more); 10000x1095 needs about 75 GB (55.0 more)" in both
    )


def test_the_readers_stages_are_shown_in_floors_largest_first():
    from benchmarks.run import ingest_stage_note

    ingest = {"floor_s": 0.25, "project_stages_s": {"files": 0.01, "parse": 0.5, "write": 0.3}}
    assert ingest_stage_note(ingest) == "parse 2.00x, write 1.20x, files 0.04x"
    assert ingest_stage_note({"floor_s": 0.25}) == ""  # a result from before the stages


def test_the_readers_use_of_the_cores_is_compared_on_one_thread():
    from benchmarks.run import ingest_cores_note

    ingest = {"project_s": 1.5, "floor_s": 0.25, "project_1t_s": 1.5, "floor_1t_s": 0.4}
    note = ingest_cores_note(ingest)
    assert note == (
        "With DuckDB on one thread the reader takes 1.50 s (1.00x its time on every core) and "
        "the floor 0.40 s (1.60x): on one core each, the reader is 3.75x the floor"
    )
    assert ingest_cores_note({"project_s": 1.5, "floor_s": 0.25}) == ""  # a result from before


def test_the_next_step_for_the_ingestion_is_priced_from_the_same_runs_times():
    from benchmarks.run import CONTRACT_COLUMNS, ingest_next_step_note

    # envelope 3 + optional 4 + the 30 fields of the types: every field the contract names once
    assert len(CONTRACT_COLUMNS) == 37
    assert CONTRACT_COLUMNS["stream"] == "BOOLEAN" and CONTRACT_COLUMNS["metadata"] == "JSON"
    ingest = {"project_s": 1.5, "floor_s": 0.25, "lines_s": 0.375, "typed_s": 0.4}
    note = ingest_next_step_note(ingest)
    assert "over all 37 contract fields in 1.60x the floor" in note
    assert "plus the lines (1.50x): 3.10x the floor, against 6.00x today" in note
    assert ingest_next_step_note({"project_s": 1.5, "floor_s": 0.25, "lines_s": 0.3}) == ""


def test_the_first_run_after_the_build_counts_for_memory_not_for_the_daily_time():
    """The daily targets read the run that follows the day before's (`daily_s`); the first run
    after the build (page cache holding what the build wrote) is shown, and its memory is a
    run's like any other."""
    results = _results()
    results["direct"][1] |= {"first_run_s": 40.0, "first_run_mib": 12_000}
    got = {t["id"]: t["measured"] for t in targets(results)}
    assert got["daily_100x_3y_over_1y"] == 1.2  # 33.6 / 28, not 40 / 28
    assert got["peak_mib"] == 12_000.0


def test_the_page_shows_the_first_run_next_to_the_daily_run():
    from benchmarks.run import ANALYST_QUERIES, direct_lines

    runs = [
        {**_direct(365, 28.0, 2.0, [10] * 5, 2_000), "first_run_s": 31.25, "first_run_mib": 2_500},
        _direct(1095, 33.6, 2.4, [10] * 5, 3_000),  # measured before the first run was kept
    ]
    for r in runs:
        r |= {"interactions": 1, "warehouse_mb": 1, "published_mb": 1, "build_s": 1,
              "full_publish_s": 1}  # fmt: skip
        r["daily_profile"] |= {"run_s": r["daily_s"] - 1, "dbt_sql_s": 1.0}
        r["queries"] = {n: (1.0, 2.0) for n in ANALYST_QUERIES}
    # the runs' table comes first (the analyst queries' table has rows of the same names)
    rows = [line for line in direct_lines(runs) if line.startswith("| 10,000 x")][:2]
    cells = [[c.strip() for c in row.split("|")[5:8]] for row in rows]
    assert cells == [["31.2 s", "28.0 s", "2,500 MiB"], ["the daily run", "33.6 s", "3,000 MiB"]]
