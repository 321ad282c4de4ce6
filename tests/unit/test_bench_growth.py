"""The bench's per-node view of the daily run on each history (benchmarks/run.py
`growth_lines`): the largest dbt nodes of each run and the reader's stages, side by side."""

from benchmarks.run import growth_lines


def _run(days: int, nodes: dict[str, float], stages: dict[str, float]) -> dict:
    return {
        "sessions_per_day": 10_000,
        "days": days,
        "daily_profile": {"dbt_nodes": nodes, "ingest_stages": stages},
    }


def test_the_largest_nodes_of_each_run_and_every_stage_side_by_side():
    one = _run(365, {"a": 3.0, "b": 2.0, "c": 1.0}, {"parse": 0.7, "dedup": 2.1})
    three = _run(1095, {"c": 9.0, "a": 3.1, "b": 0.5}, {"dedup": 6.4})
    older = {"sessions_per_day": 10_000, "days": 90, "daily_profile": {"steps": {}}}
    lines = growth_lines([older, one, three], top=1)
    assert lines[3:] == [
        "| | 10,000 x 365 | 10,000 x 1095 |",
        "|---|---|---|",
        "| dbt `a` | 3.00 | 3.10 |",
        "| dbt `c` | 1.00 | 9.00 |",
        "| reader: dedup | 2.10 | 6.40 |",
        "| reader: parse | 0.70 | - |",
    ]


def test_results_from_before_the_per_node_profile_give_no_table():
    assert growth_lines([{"sessions_per_day": 1, "days": 1, "daily_profile": {"steps": {}}}]) == []
