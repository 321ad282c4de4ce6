"""The performance targets (issue 20) against what one `make bench` run measured.

Each target is `{id, measured, limit, unit, status, note}`: `measured` is the worst case of the
run (None when the run did not measure it, e.g. a size left out), `limit` in the same unit.
BENCHMARKS.json carries them under `results.targets`; BENCHMARKS.md shows the same table.
"""

from __future__ import annotations

REFERENCE_SESSIONS = 10_000  # 100x the seed's 100 sessions a day
ONE_YEAR, THREE_YEARS = 365, 3 * 365

LIMITS: dict[str, tuple[float, str, str]] = {
    # id: (limit, unit, what)
    "daily_100x_1y_s": (30.0, "s", "one new 100x day on a year of history"),
    "daily_100x_3y_over_1y": (1.15, "x", "the same on three years, over the one-year figure"),
    "publish_growth": (0.15, "ratio", "publish time for one day, three years over one, minus 1"),
    "ingest_vs_floor": (3.0, "x", "ingestion over the plain `read_json` floor, contract kept"),
    "queries_p95_ms_3y": (100.0, "ms", "analyst queries p95 on three years"),
    "archive_query_ms_3y": (500.0, "ms", "archived-range query p95 on three years"),
    "peak_mib": (4096.0, "MiB", "peak memory of any run"),
    "full_rebuild_100x_1y_s": (1500.0, "s", "full rebuild of a year at 100x"),
}

PUBLISH_STEP = "published__analytics_warehouse"


def _direct(results: dict, days: int) -> dict | None:
    """The daily run on `days` of history at the reference size (benchmarks/history.py)."""
    found = [
        r
        for r in results.get("direct", [])
        if r["sessions_per_day"] >= REFERENCE_SESSIONS and r["days"] == days
    ]
    return max(found, key=lambda r: r["daily_s"]) if found else None


def direct_peak_mib(r: dict) -> float:
    """The largest process of a history built directly: its first run after the build (results
    from 2026-12-03 07:56 on) or its measured daily run."""
    return max(r["daily_mib"], r.get("first_run_mib", 0))


def rebuilt_histories(results: dict) -> list[dict]:
    """The full rebuilds the target `full_rebuild_100x_1y_s` counts: a year or more at 100x."""
    return [
        r
        for r in results.get("history", [])
        if r["sessions_per_day"] >= REFERENCE_SESSIONS and r["days"] >= ONE_YEAR
    ]


def measured_values(results: dict) -> dict[str, float | None]:
    one, three = _direct(results, ONE_YEAR), _direct(results, THREE_YEARS)
    ingest = results.get("ingest")
    rebuilt = rebuilt_histories(results)
    names = results.get("query_names", [])
    peaks = [direct_peak_mib(r) for r in results.get("direct", [])] + [
        max(r["full_mib"], r["daily_mib"]) for r in results.get("history", [])
    ]

    def publish(r: dict) -> float:
        return r["daily_profile"]["steps"][PUBLISH_STEP]

    return {
        "daily_100x_1y_s": one["daily_s"] if one else None,
        "daily_100x_3y_over_1y": three["daily_s"] / one["daily_s"] if one and three else None,
        "publish_growth": publish(three) / publish(one) - 1 if one and three else None,
        "ingest_vs_floor": ingest["project_s"] / ingest["floor_s"] if ingest else None,
        "queries_p95_ms_3y": (
            max(three["queries"][n][1] for n in names[:-1]) if three and names else None
        ),
        "archive_query_ms_3y": three["queries"][names[-1]][1] if three and names else None,
        "peak_mib": max(peaks) if peaks else None,
        "full_rebuild_100x_1y_s": max(r["full_s"] for r in rebuilt) if rebuilt else None,
    }


def targets(results: dict) -> list[dict]:
    out = []
    for target_id, value in measured_values(results).items():
        limit, unit, _ = LIMITS[target_id]
        status = "not measured" if value is None else "met" if value <= limit else "missed"
        out.append(
            {
                "id": target_id,
                "measured": None if value is None else round(value, 4),
                "limit": limit,
                "unit": unit,
                "status": status,
            }
        )
    return out


def _shown(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ratio":
        return f"{100 * value:+.1f}%"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.1f} {unit}"


def target_table(rows: list[dict], notes: dict[str, str]) -> list[str]:
    out = [
        "| id | target | measured (worst case) | limit | status | what blocks it (measured) |",
        "|---|---|---|---|---|---|",
    ]
    for t in rows:
        what = LIMITS[t["id"]][2]
        out.append(
            f"| `{t['id']}` | {what} | {_shown(t['measured'], t['unit'])} | "
            f"{_shown(t['limit'], t['unit'])} | {t['status']} | {notes.get(t['id'], '')} |"
        )
    return out
