"""The bench's run-by-run view of a full rebuild (benchmarks/run.py `rebuild_lines`)."""

from benchmarks.run import rebuild_lines, rebuild_note, target_lines


def _run(start: str, end: str, run_s: float, dbt: float, nodes: dict[str, float]) -> dict:
    return {
        "start": start,
        "end": end,
        "run_s": run_s,
        "steps": {"ingest_app_events": 2.0, "dbt_models": dbt, "check_parity": 0.5},
        "dbt_sql_s": sum(nodes.values()),
        "dbt_nodes": nodes,
        "ingest_stages": {},
    }


def test_each_run_a_total_and_the_largest_nodes_over_the_rebuild():
    history = {
        "sessions_per_day": 10_000,
        "days": 4,
        "full_s": 30.0,
        "full_profiles": [
            _run("2025-01-01", "2025-01-02", 12.0, 8.0, {"a": 3.0, "b": 2.5, "c": 0.1}),
            _run("2025-01-03", "2025-01-04", 14.0, 9.0, {"a": 1.0, "b": 4.0}),
        ],
    }
    lines = rebuild_lines(history, top=2)
    assert lines[1].endswith("the command's start-up and the time between its runs: 4.0 s):")
    assert lines[5:] == [
        "| 1 | 2025-01-01..2025-01-02 | 12.0 | 2.0 | 0.0 | 8.0 (5.6 SQL) | 0.0 | 0.0 | 0.0 "
        "| 0.5 | 1.5 |",
        "| 2 | 2025-01-03..2025-01-04 | 14.0 | 2.0 | 0.0 | 9.0 (5.0 SQL) | 0.0 | 0.0 | 0.0 "
        "| 0.5 | 2.5 |",
        "| all | | 26.0 | 4.0 | 0.0 | 17.0 (10.6 SQL) | 0.0 | 0.0 | 0.0 | 1.0 | 4.0 |",
        "",
        "dbt's 2 largest nodes over the rebuild, SQL seconds per run:",
        "",
        "| run | `b` | `a` |",
        "|---|---|---|",
        "| 1 | 2.5 | 3.0 |",
        "| 2 | 4.0 | 1.0 |",
        "| all | 6.5 | 4.0 |",
    ]


def test_a_history_from_before_the_per_run_profile_gives_nothing():
    assert rebuild_lines({"sessions_per_day": 1, "days": 1, "full_s": 1.0}) == []


def test_the_rebuilds_target_says_where_its_time_went_summed_over_its_runs():
    history = {
        "sessions_per_day": 10_000,
        "days": 365,
        "full_s": 30.0,
        "full_mib": 100.0,
        "daily_mib": 90.0,
        "full_profiles": [
            _run("2025-01-01", "2025-06-30", 12.0, 8.0, {"a": 3.0, "b": 2.5}),
            _run("2025-07-01", "2025-12-31", 14.0, 9.0, {"a": 1.0, "b": 4.0}),
        ],
    }
    # outside the runs 30 - 26 = 4.0; ingest 2 + 2; dbt 8 + 9 (SQL 5.5 + 5.0); the rest none
    expected = (
        "30.0 s for 365 days in 2 runs, of which (s): outside the runs 4.0, ingest 4.0, "
        "prices, budgets, providers 0.0, dbt 17.0 (10.5 SQL), archive 0.0, publish 0.0, report 0.0"
    )
    assert rebuild_note(history) == expected
    assert rebuild_note({"sessions_per_day": 1, "days": 1, "full_s": 1.0}) == ""
    results = {
        "ingest": {"project_s": 2.0, "floor_s": 1.0, "lines_s": 1.5},
        "history": [{**history, "sessions_per_day": 100, "full_s": 99.0}, history],
        "measured_at": "2026-12-04 00:00",
    }
    row = next(line for line in target_lines(results) if line.startswith("| `full_rebuild"))
    assert row.endswith(f"| met | {expected}; measured 2026-12-04 00:00 |")
