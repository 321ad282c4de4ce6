"""Contract-valid event logs at a chosen size, written by DuckDB (no Python loop per event).

One file per day (`YYYY/MM/DD.jsonl`), `sessions_per_day` sessions of `per_session` events each:
session_start, interactions (about 60% llm_call, 15% db_op, 10% api_call, 10% compute, 5%
feedback on the previous event) and session_end. Values are derived from hashes of the ids, so
the same arguments give the same bytes.

    python benchmarks/scale.py OUT_DIR --start 2025-01-01 --days 365 --sessions-per-day 10000
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import duckdb

MODELS = [
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4.1"),
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-haiku-4-5"),
]

DAY_SQL = """
with sessions as (
    select range as sid, hash($day, range) as h from range($sessions)
),
events as (
    select
        sid, k, h,
        hash(h, k) as r,
        $day::DATE + to_seconds((h % 80000)::BIGINT + k * 20) as event_at,
        'e' || strftime($day::DATE, '%Y%m%d') || '-' || sid || '-' || k as event_id,
        's' || strftime($day::DATE, '%Y%m%d') || '-' || sid as session_id,
        'user_' || lpad(((h >> 8) % $users)::VARCHAR, 6, '0') as user_id
    from sessions, range($per_session) as t(k)
),
typed as (
    select *,
        case
            when k = 0 then 'session_start'
            when k = $per_session - 1 then 'session_end'
            when r % 100 < 60 then 'llm_call'
            when r % 100 < 75 then 'db_op'
            when r % 100 < 85 then 'api_call'
            when r % 100 < 95 then 'compute'
            else 'feedback'
        end as event_type,
        ((r >> 16) % 4)::BIGINT as m,
        strftime(event_at, '%Y-%m-%dT%H:%M:%S.%gZ') as ts
    from events
)
select
    case event_type
        when 'llm_call' then json_object(
            'event_id', event_id, 'type', event_type, 'ts', ts,
            'user_id', user_id, 'session_id', session_id,
            'provider', $providers[m + 1], 'model', $models[m + 1],
            'project_id', 'proj_main', 'api_key_id', 'key_app_1',
            'input_tokens', 200 + (r >> 20) % 6000,
            'cached_input_tokens', ((r >> 20) % 6000) // 3,
            'output_tokens', 20 + (r >> 34) % 800,
            'duration_ms', 150 + (r >> 44) % 4000,
            'status', case when r % 53 = 0 then 'error' else 'ok' end)
        when 'db_op' then json_object(
            'event_id', event_id, 'type', event_type, 'ts', ts,
            'user_id', user_id, 'session_id', session_id, 'operation', 'read',
            'rows_read', (r >> 20) % 5000, 'rows_written', 0, 'duration_ms', 1 + (r >> 40) % 80)
        when 'api_call' then json_object(
            'event_id', event_id, 'type', event_type, 'ts', ts,
            'user_id', user_id, 'session_id', session_id, 'service', 'search',
            'units', 1, 'duration_ms', 50 + (r >> 40) % 500)
        when 'compute' then json_object(
            'event_id', event_id, 'type', event_type, 'ts', ts,
            'user_id', user_id, 'session_id', session_id,
            'duration_ms', 10 + (r >> 20) % 3000, 'memory_mb', 512)
        when 'feedback' then json_object(
            'event_id', event_id, 'type', event_type, 'ts', ts,
            'user_id', user_id, 'session_id', session_id,
            'action', case when r % 3 = 0 then 'edited' else 'approved' end,
            'quality_score', (r >> 20) % 101,
            'ref_event_id', 'e' || strftime($day::DATE, '%Y%m%d') || '-' || sid || '-' || (k - 1))
        else json_object(
            'event_id', event_id, 'type', event_type, 'ts', ts,
            'user_id', user_id, 'session_id', session_id)
    end as line
from typed
order by sid, k
"""


def write_day(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    day: dt.date,
    sessions_per_day: int,
    per_session: int = 17,
    users: int = 50_000,
) -> tuple[Path, int]:
    """Write one day's file; returns its path and line count."""
    path = root / f"{day:%Y/%m/%d}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    params = {
        "day": day.isoformat(),
        "sessions": sessions_per_day,
        "per_session": per_session,
        "users": users,
        "providers": [p for p, _ in MODELS],
        "models": [m for _, m in MODELS],
    }
    con.execute(f"create or replace temp table day_lines as {DAY_SQL}", params)
    # The lines are JSON without tabs or newlines: written as one unquoted CSV column.
    con.execute(
        f"copy day_lines to '{str(path).replace(chr(39), chr(39) * 2)}' "
        "(format csv, header false, delimiter '\t', quote '\x01', escape '\x01')"
    )
    return path, sessions_per_day * per_session


def write_scale_logs(
    root: Path, start: dt.date, days: int, sessions_per_day: int, per_session: int = 17
) -> int:
    """Write `days` days of logs under `root`; returns the number of lines."""
    total = 0
    with duckdb.connect() as con:
        for i in range(days):
            day = start + dt.timedelta(days=i)
            total += write_day(con, root, day, sessions_per_day, per_session)[1]
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2025, 1, 1))
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--sessions-per-day", type=int, default=100)
    args = parser.parse_args()
    n = write_scale_logs(args.out, args.start, args.days, args.sessions_per_day)
    print(f"{n:,} lines under {args.out}")


if __name__ == "__main__":
    main()
